//! The `live_archive` job: a live's periods become the session's lecture (the same kind of
//! version a transcoded recording is), published atomically; then the live's working folder
//! (segments and journal) is deleted.

use super::Worker;
use crate::db::jobs::{JobRow, Publication};
use crate::db::lectures::PublishedRendition;
use crate::media::live::packager::{InputFormat, PackagerOptions};
use crate::media::live::replay::{build_replay, PeriodSource, Replay, ReplayError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// `jobs.kind` of a live's replay.
pub(super) const KIND: &str = "live_archive";

impl Worker {
    pub(super) async fn run_live_archive(
        &self,
        job: JobRow,
        stop: &Arc<AtomicBool>,
    ) -> anyhow::Result<()> {
        tracing::info!(job = job.id, live = ?job.live_id, attempt = job.attempts, "live replay started");
        let Some(live_id) = job.live_id else {
            self.fail(&job, "直播记录已不存在，无法生成回放").await?;
            return Ok(());
        };
        let Some(root) = self.storage.live_work_dir(&job.input_path) else {
            self.fail(&job, "直播文件路径无效").await?;
            return Ok(());
        };
        let mut periods = Vec::new();
        for p in self.db.live_periods(live_id).await? {
            let format = match p.format.as_str() {
                "flv" => InputFormat::Flv,
                _ => InputFormat::MpegTs,
            };
            periods.push(PeriodSource {
                dir: root.join(p.period.to_string()),
                format,
            });
        }
        if let Err(e) = self.storage.remove_partials(job.lecture_id) {
            tracing::warn!(error = %e, "removing partial output");
        }
        let version = job.version();
        self.storage.delete_version(version).await?;
        let staging = self.storage.stage_version(version)?;
        let cancel = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let handle = {
            let cancel = cancel.clone();
            let options = PackagerOptions {
                part_target: None,
                ..PackagerOptions::default()
            };
            tokio::task::spawn_blocking(move || {
                let result = build_replay(&periods, staging.path(), &options, &cancel);
                (staging, result)
            })
        };
        // the replay's progress is not measured; a shutdown cancels it as a lost job does
        let (watcher, shutdown) = (cancel.clone(), stop.clone());
        let result = self
            .heartbeat_until(&job, handle, &cancel, move || {
                if shutdown.load(Ordering::Relaxed) {
                    watcher.store(true, Ordering::Relaxed);
                }
                (0.0, None)
            })
            .await;
        match result {
            Ok((staging, Ok(replay))) => {
                if let Err(e) = self.storage.publish_dir(staging, version).await {
                    tracing::warn!(job = job.id, error = %e, "installing the replay failed");
                    self.fail(&job, &ReplayError::Io(e).to_string()).await?;
                    return Ok(());
                }
                self.publish_replay(&job, replay, started).await?;
            }
            Ok((_, Err(ReplayError::Cancelled))) => {
                if stop.load(Ordering::Relaxed) {
                    self.db.release_job(job.id, &self.id).await?;
                    tracing::info!(
                        job = job.id,
                        "live replay interrupted by shutdown; queued again"
                    );
                }
            }
            Ok((_, Err(e))) => {
                tracing::warn!(job = job.id, error = %e, "live replay failed");
                self.fail(&job, &e.to_string()).await?;
            }
            Err(join) => {
                tracing::error!(job = job.id, error = %join, "replay thread panicked");
                self.fail(&job, "回放生成程序异常中止，请重试").await?;
            }
        }
        Ok(())
    }

    async fn publish_replay(
        &self,
        job: &JobRow,
        replay: Replay,
        started: Instant,
    ) -> anyhow::Result<()> {
        let publication = Publication {
            version: job.version(),
            duration_s: replay.duration_s,
            // video rungs highest first, then the audio rendition, as a transcode lists them
            renditions: replay
                .renditions
                .iter()
                .chain(replay.audio.as_ref())
                .map(|r| PublishedRendition {
                    name: r.name.clone(),
                    width: r.width,
                    height: r.height,
                    bandwidth: r.bandwidth,
                })
                .collect(),
            audio_only: replay.audio_only,
            warnings: replay.warnings,
        };
        if self.complete(job, &publication, started).await? {
            // the replay's files are links or copies: the live's folder and its journal are
            // no longer needed
            if let Err(e) = self.storage.delete_live_work_dir(&job.input_path) {
                tracing::warn!(job = job.id, error = %e, "removing the live's working folder");
            }
            // and its mirror for other replicas (crate::app::live::mirror), if it had one
            if let Some(mirror) = crate::app::live::mirror::prefix_of_work_dir(&job.input_path) {
                if let Err(e) = self.storage.delete_prefix(&mirror).await {
                    tracing::warn!(job = job.id, error = %e, "removing the live's mirror");
                }
            }
        }
        Ok(())
    }
}
