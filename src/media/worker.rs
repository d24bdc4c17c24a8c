//! The transcode worker: claims jobs from the database queue, runs the transcoder on a blocking
//! thread, reports progress and heartbeats, and publishes the output. Several workers (in this
//! process or in others sharing the database) can run side by side.

use super::storage::Storage;
use super::transcode::{self, Control, Progress, TranscodeError, TranscodeOptions};
use crate::db::media::{JobRow, Publication, RenditionRow};
use crate::db::Db;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// Runs transcode jobs.
#[derive(Clone)]
pub struct Worker {
    db: Db,
    storage: Storage,
    /// This worker's name in the `jobs.worker` column.
    id: String,
    /// A running job without a heartbeat for this long belongs to a dead worker.
    stale_after: Duration,
    options: TranscodeOptions,
    /// Wakes idle workers when a job is queued in this process.
    wake: Arc<Notify>,
}

/// How often a running job's heartbeat and progress are written.
const HEARTBEAT: Duration = Duration::from_secs(1);

impl Worker {
    pub fn new(db: Db, storage: Storage, stale_after: Duration, wake: Arc<Notify>) -> Worker {
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
            options: TranscodeOptions::default(),
            wake,
        }
    }

    /// Use `options` for the transcodes (ladder, segment length).
    pub fn with_options(mut self, options: TranscodeOptions) -> Worker {
        self.options = options;
        self
    }

    /// Queue again the jobs of dead workers.
    pub async fn recover(&self) -> anyhow::Result<u64> {
        let stale = chrono::Duration::from_std(self.stale_after)?;
        Ok(self.db.recover_stale_jobs(stale).await?)
    }

    /// Claim and run one job; `Ok(None)` when the queue is empty. Tests call this to drain the
    /// queue deterministically.
    pub async fn run_one(&self, stop: &Arc<AtomicBool>) -> anyhow::Result<Option<i64>> {
        let Some(job) = self.db.claim_job(&self.id).await? else {
            return Ok(None);
        };
        let id = job.id;
        self.run_job(job, stop).await?;
        Ok(Some(id))
    }

    async fn run_job(&self, job: JobRow, stop: &Arc<AtomicBool>) -> anyhow::Result<()> {
        tracing::info!(
            job = job.id,
            lecture = job.lecture_id,
            attempt = job.attempts,
            "transcode started"
        );
        if let Err(e) = self.storage.remove_partials(job.lecture_id) {
            tracing::warn!(error = %e, "removing partial output");
        }
        let Some(input) = self.storage.resolve(&job.input_path) else {
            self.db.fail_job(job.id, "录像文件路径无效").await?;
            return Ok(());
        };
        let (rel, out_dir) = self.storage.lecture_version(job.lecture_id, job.id);
        // a previous attempt may have finished writing but died before publishing
        self.storage.remove_dir(&rel)?;
        if let Err(e) = transcode::remove_stale_partials(&out_dir) {
            tracing::warn!(error = %e, "removing stale partial output");
        }

        let latest: Arc<Mutex<Option<Progress>>> = Arc::new(Mutex::new(None));
        let cancel = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let handle = {
            let latest = latest.clone();
            let cancel = cancel.clone();
            let stop = stop.clone();
            let options = self.options.clone();
            let out_dir = out_dir.clone();
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
                transcode::transcode(&input, &out_dir, &options, &mut on_progress)
            })
        };
        tokio::pin!(handle);
        let result = loop {
            tokio::select! {
                r = &mut handle => break r,
                _ = tokio::time::sleep(HEARTBEAT) => {
                    let fraction = latest
                        .lock()
                        .ok()
                        .and_then(|p| p.as_ref().map(|p| p.fraction))
                        .unwrap_or(0.0);
                    let eta = (fraction > 0.01).then(|| {
                        let elapsed = started.elapsed().as_secs_f64();
                        elapsed * (1.0 - fraction) / fraction
                    });
                    match self.db.job_heartbeat(job.id, &self.id, fraction, eta).await {
                        Ok(true) => {}
                        // the job was taken from us (declared stale): stop working on it
                        Ok(false) => cancel.store(true, Ordering::Relaxed),
                        Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                    }
                }
            }
        };
        match result {
            Ok(Ok(report)) => {
                let publication = Publication {
                    hls_path: rel.clone(),
                    duration_s: report.duration_s,
                    renditions: report
                        .renditions
                        .iter()
                        .map(|r| RenditionRow {
                            name: r.name.clone(),
                            width: r.width,
                            height: r.height,
                            bandwidth: r.bandwidth,
                        })
                        .collect(),
                    audio_only: report.audio_only,
                    warnings: report.warnings.clone(),
                };
                match self
                    .db
                    .complete_job(job.id, &self.id, job.lecture_id, &publication)
                    .await
                {
                    Ok(previous) => {
                        if let Some(old) = previous {
                            if let Err(e) = self.storage.remove_dir(&old) {
                                tracing::warn!(error = %e, path = %old, "removing old version");
                            }
                        }
                        tracing::info!(
                            job = job.id,
                            seconds = started.elapsed().as_secs_f64(),
                            "transcode done"
                        );
                    }
                    Err(e) => {
                        // not ours any more (or the database failed): leave no stray output
                        self.storage.remove_dir(&rel)?;
                        tracing::warn!(job = job.id, error = %e, "could not publish");
                    }
                }
            }
            Ok(Err(TranscodeError::Cancelled)) => {
                self.storage.remove_dir(&rel)?;
                if stop.load(Ordering::Relaxed) {
                    self.db.release_job(job.id, &self.id).await?;
                    tracing::info!(
                        job = job.id,
                        "transcode interrupted by shutdown; queued again"
                    );
                }
            }
            Ok(Err(e)) => {
                self.storage.remove_dir(&rel)?;
                tracing::warn!(job = job.id, error = %e, "transcode failed");
                self.db.fail_job(job.id, &e.message_zh()).await?;
            }
            Err(join) => {
                self.storage.remove_dir(&rel)?;
                tracing::error!(job = job.id, error = %join, "transcoder thread panicked");
                self.db
                    .fail_job(job.id, "转码程序异常中止，请重试或更换录像文件")
                    .await?;
            }
        }
        Ok(())
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
