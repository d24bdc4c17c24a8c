//! The transcode worker: claims jobs from the database queue, runs the transcoder on a blocking
//! thread, reports progress and heartbeats, and publishes the output. Several workers (in this
//! process or in others sharing the database) can run side by side.

mod live_archive;

use super::storage::SharedStorage;
use super::transcode::{
    self, Control, Progress, RenditionInfo, TranscodeError, TranscodeOptions, TranscodeReport,
};
use crate::db::jobs::{JobRow, Publication};
use crate::db::lectures::PublishedRendition;
use crate::db::Db;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// Runs transcode jobs.
#[derive(Clone)]
pub struct Worker {
    db: Db,
    storage: SharedStorage,
    /// This worker's name in the `jobs.worker` column.
    id: String,
    /// A running job without a heartbeat for this long belongs to a dead worker.
    stale_after: Duration,
    options: TranscodeOptions,
    /// Wakes idle workers when a job is queued in this process.
    wake: Arc<Notify>,
    /// Replay jobs of lives ingested on another machine, handed back (see
    /// [`Worker::run_one`]), and when.
    elsewhere: Arc<std::sync::Mutex<std::collections::HashMap<i64, Instant>>>,
}

/// How long a replay job waits for a worker on the machine that ingested its live, and how
/// long a worker elsewhere passes it over; after that any worker runs it (and fails it with
/// the reason if the live's folder is really gone).
const ELSEWHERE_FOR: Duration = Duration::from_secs(600);

/// What the player's quality menu needs of a produced rendition.
impl From<&RenditionInfo> for PublishedRendition {
    fn from(r: &RenditionInfo) -> Self {
        PublishedRendition {
            name: r.name.clone(),
            width: r.width,
            height: r.height,
            bandwidth: r.bandwidth,
        }
    }
}

/// How often a running job's heartbeat and progress are written.
const HEARTBEAT: Duration = Duration::from_secs(1);

impl Worker {
    pub fn new(db: Db, storage: SharedStorage, stale_after: Duration, wake: Arc<Notify>) -> Worker {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
        Worker {
            db,
            storage,
            id: format!(
                "{host}:{}:{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            stale_after,
            options: TranscodeOptions::default().with_env(),
            wake,
            elsewhere: Default::default(),
        }
    }

    /// Queue again the jobs of dead workers.
    pub async fn recover(&self) -> anyhow::Result<u64> {
        let stale = chrono::Duration::from_std(self.stale_after)?;
        Ok(self.db.recover_stale_jobs(stale).await?)
    }

    /// Claim and run one job; `Ok(None)` when the queue is empty. Tests call this to drain the
    /// queue deterministically.
    ///
    /// A live's replay is made from its working folder on the machine that ingested it: a
    /// worker on another machine (several replicas and workers, issue 18) hands such a job
    /// back at once, without counting an attempt, and passes it over for a while.
    pub async fn run_one(&self, stop: &Arc<AtomicBool>) -> anyhow::Result<Option<i64>> {
        let skip: Vec<i64> = {
            let mut elsewhere = self
                .elsewhere
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            elsewhere.retain(|_, at| at.elapsed() < ELSEWHERE_FOR);
            elsewhere.keys().copied().collect()
        };
        let Some(job) = self.db.claim_job_except(&self.id, &skip).await? else {
            return Ok(None);
        };
        let id = job.id;
        let young = (chrono::Utc::now() - job.created_at)
            .to_std()
            .is_ok_and(|age| age < ELSEWHERE_FOR);
        let not_here = job.kind == live_archive::KIND
            && self
                .storage
                .live_work_dir(&job.input_path)
                .is_some_and(|dir| !dir.exists());
        if not_here && young {
            self.db.release_job(id, &self.id).await?;
            self.elsewhere
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(id, Instant::now());
            tracing::info!(
                job = id,
                "live replay left to the machine that ingested the live"
            );
            return Ok(Some(id));
        }
        self.run_job(job, stop).await?;
        Ok(Some(id))
    }

    async fn run_job(&self, job: JobRow, stop: &Arc<AtomicBool>) -> anyhow::Result<()> {
        if job.kind == live_archive::KIND {
            return self.run_live_archive(job, stop).await;
        }
        tracing::info!(
            job = job.id,
            lecture = job.lecture_id,
            attempt = job.attempts,
            "transcode started"
        );
        // leftovers of interrupted attempts at any version of this lecture
        if let Err(e) = self.storage.remove_partials(job.lecture_id) {
            tracing::warn!(error = %e, "removing partial output");
        }
        let input = match self.storage.upload_input(&job.input_path).await {
            Ok(Some(input)) => input,
            Ok(None) => {
                self.fail(&job, "录像文件路径无效").await?;
                return Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // deleted once a later recording of the lecture was published
                self.fail(&job, "录像原文件已不存在（已有更新的录像发布），请重新上传")
                    .await?;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let version = job.version();
        // a previous attempt may have finished writing but died before publishing
        self.storage.delete_version(version).await?;
        let staging = self.storage.stage_version(version)?;

        let latest: Arc<Mutex<Option<Progress>>> = Arc::new(Mutex::new(None));
        let cancel = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let handle = {
            let latest = latest.clone();
            let cancel = cancel.clone();
            let stop = stop.clone();
            let options = self.options.clone();
            tokio::task::spawn_blocking(move || {
                let mut on_progress = |p: &Progress| {
                    if let Ok(mut slot) = latest.lock() {
                        *slot = Some(p.clone());
                    }
                    if cancel.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
                        Control::Cancel
                    } else {
                        Control::Continue
                    }
                };
                // the staging folder travels with the result: dropped (and removed) on error
                let result = transcode::transcode_into(
                    input.path(),
                    staging.path(),
                    &options,
                    &mut on_progress,
                );
                (staging, result)
            })
        };
        let result = self
            .heartbeat_until(&job, handle, &cancel, || {
                let fraction = latest
                    .lock()
                    .ok()
                    .and_then(|p| p.as_ref().map(|p| p.fraction))
                    .unwrap_or(0.0);
                let eta = (fraction > 0.01).then(|| {
                    let elapsed = started.elapsed().as_secs_f64();
                    elapsed * (1.0 - fraction) / fraction
                });
                (fraction, eta)
            })
            .await;
        match result {
            Ok((staging, Ok(report))) => {
                if let Err(e) = self.storage.publish_dir(staging, version).await {
                    let e = TranscodeError::Io(e);
                    tracing::warn!(job = job.id, error = %e, "installing the output failed");
                    self.fail(&job, &e.message_zh()).await?;
                    return Ok(());
                }
                // the organizer sees which path was taken and why
                let choice = &report.path;
                if let Err(e) = self
                    .db
                    .record_job_path(
                        job.id,
                        &self.id,
                        choice.path.as_str(),
                        choice.reason.as_str(),
                        &choice.note_zh(),
                    )
                    .await
                {
                    tracing::warn!(job = job.id, error = %e, "recording the transcode path");
                }
                self.publish(&job, &report, started).await?;
            }
            Ok((_, Err(TranscodeError::Cancelled))) => {
                if stop.load(Ordering::Relaxed) {
                    self.db.release_job(job.id, &self.id).await?;
                    tracing::info!(
                        job = job.id,
                        "transcode interrupted by shutdown; queued again"
                    );
                }
            }
            Ok((_, Err(e))) => {
                tracing::warn!(job = job.id, error = %e, "transcode failed");
                self.fail(&job, &e.message_zh()).await?;
            }
            Err(join) => {
                tracing::error!(job = job.id, error = %join, "transcoder thread panicked");
                self.fail(&job, "转码程序异常中止，请重试或更换录像文件")
                    .await?;
            }
        }
        Ok(())
    }

    /// Publish the installed output of a transcode.
    async fn publish(
        &self,
        job: &JobRow,
        report: &TranscodeReport,
        started: Instant,
    ) -> anyhow::Result<bool> {
        let publication = Publication {
            version: job.version(),
            duration_s: report.duration_s,
            renditions: report
                .renditions
                .iter()
                .map(PublishedRendition::from)
                .collect(),
            audio_only: report.audio_only,
            warnings: report.warnings.clone(),
        };
        self.complete(job, &publication, started).await
    }

    /// Run `handle` (a job's blocking work) to its end, writing the job's heartbeat and
    /// `progress()` (fraction, seconds left) every [`HEARTBEAT`]; when the job is taken from
    /// this worker (declared stale), `cancel` is set so the work stops.
    async fn heartbeat_until<T>(
        &self,
        job: &JobRow,
        handle: tokio::task::JoinHandle<T>,
        cancel: &AtomicBool,
        progress: impl Fn() -> (f64, Option<f64>),
    ) -> Result<T, tokio::task::JoinError> {
        tokio::pin!(handle);
        loop {
            tokio::select! {
                r = &mut handle => return r,
                _ = tokio::time::sleep(HEARTBEAT) => {
                    let (fraction, eta) = progress();
                    match self.db.job_heartbeat(job.id, &self.id, fraction, eta).await {
                        Ok(true) => {}
                        // the job was taken from us (declared stale): stop working on it
                        Ok(false) => cancel.store(true, Ordering::Relaxed),
                        Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                    }
                }
            }
        }
    }

    /// Publish an installed version: the lecture points at it (in the job's completing
    /// transaction), the previous version and the uploads nobody needs any more are deleted.
    /// Returns false when the job was not ours any more (its output is removed).
    async fn complete(
        &self,
        job: &JobRow,
        publication: &Publication,
        started: Instant,
    ) -> anyhow::Result<bool> {
        match self
            .db
            .complete_job(job.id, &self.id, job.lecture_id, publication)
            .await
        {
            Ok(previous) => {
                if let Some(old) = previous {
                    if let Err(e) = self.storage.delete_version(old).await {
                        tracing::warn!(error = %e, version = %old, "removing old version");
                    }
                }
                tracing::info!(
                    job = job.id,
                    kind = %job.kind,
                    seconds = started.elapsed().as_secs_f64(),
                    "job done, version published"
                );
                self.delete_unused_uploads(job).await;
                Ok(true)
            }
            Err(e) => {
                // not ours any more (or the database failed): leave no stray output
                self.storage.delete_version(publication.version).await?;
                tracing::warn!(job = job.id, error = %e, "could not publish");
                Ok(false)
            }
        }
    }

    /// Fail `job` with a reason for organizers, then delete its upload if that failure was
    /// for good. A job no longer ours is left to whoever holds it now.
    async fn fail(&self, job: &JobRow, reason: &str) -> anyhow::Result<()> {
        if self.db.fail_job(job.id, &self.id, reason).await? {
            self.delete_unused_uploads(job).await;
        } else {
            tracing::warn!(job = job.id, "job was taken over; not marking it failed");
        }
        Ok(())
    }

    /// Delete the uploads of `job`'s lecture that no job needs any more. Failing to is not
    /// the job's failure: it is logged and the file is retried at the next publication.
    async fn delete_unused_uploads(&self, job: &JobRow) {
        let unused = match self.db.unused_uploads(job.lecture_id, job.id).await {
            Ok(unused) => unused,
            Err(e) => {
                tracing::warn!(job = job.id, error = %e, "finding unused uploads");
                return;
            }
        };
        for key in unused {
            match self.storage.delete_upload(&key).await {
                Ok(()) => tracing::info!(upload = %key, "upload deleted"),
                Err(e) => tracing::warn!(upload = %key, error = %e, "deleting an upload"),
            }
        }
    }

    /// Work until `shutdown` turns true: recover stale jobs, run queued ones, sleep when idle.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let stop = Arc::new(AtomicBool::new(false));
        {
            let stop = stop.clone();
            let mut shutdown = shutdown.clone();
            tokio::spawn(async move {
                while shutdown.changed().await.is_ok() {
                    if *shutdown.borrow() {
                        stop.store(true, Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
        let mut last_recovery = Instant::now() - self.stale_after;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if last_recovery.elapsed() >= self.stale_after / 2 {
                match self.recover().await {
                    Ok(n) if n > 0 => {
                        tracing::info!(jobs = n, "re-queued jobs of a stopped worker")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "recovering stale jobs"),
                }
                last_recovery = Instant::now();
            }
            match self.run_one(&stop).await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => tracing::error!(error = ?e, "worker error"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
