//! Use cases of recordings and their transcode jobs: upload a recording for a session and
//! queue its transcode, follow a job, run a failed job again.

use crate::db::jobs::JobRow;
use crate::db::Db;
use crate::media::storage::{self, PutError, SourceError, Storage, StoredUpload};
use futures_util::Stream;
use tokio::sync::Notify;

/// Why a recording or job request was refused.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// No such session, job or lecture.
    #[error("not found")]
    NotFound,
    /// The upload exceeded the size limit.
    #[error("upload too large")]
    UploadTooLarge,
    /// The upload broke off or was malformed.
    #[error("upload interrupted")]
    UploadInterrupted,
    /// The uploaded file holds no bytes.
    #[error("empty upload")]
    EmptyUpload,
    /// The request carried no recording.
    #[error("no file uploaded")]
    NoFile,
    /// Only failed jobs can be run again.
    #[error("job not failed")]
    JobNotFailed,
    /// The session was cancelled: no recording is taken for it.
    #[error("session cancelled")]
    SessionCancelled,
    /// A recording of this session is being transcoded; a new one waits until it is done.
    #[error("transcode running")]
    TranscodeRunning,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for MediaError {
    fn from(e: sqlx::Error) -> Self {
        MediaError::Internal(e.into())
    }
}

impl MediaError {
    /// What the organizer is told, in Chinese.
    pub fn message_zh(&self) -> &'static str {
        match self {
            MediaError::NotFound => "找不到该课程或转码任务",
            MediaError::UploadTooLarge => "上传的录像超过大小限制",
            MediaError::UploadInterrupted => "上传中断或内容不完整，请重新上传",
            MediaError::EmptyUpload => "上传的录像文件是空的",
            MediaError::NoFile => "请选择要上传的录像文件（file 字段）",
            MediaError::JobNotFailed => "只有失败的转码任务可以重新运行",
            MediaError::SessionCancelled => "本课程已取消，不能上传录像",
            MediaError::TranscodeRunning => "本课程的录像正在转码，请等转码完成后再上传新的录像",
            MediaError::Internal(_) => "服务器内部错误",
        }
    }
}

/// Where a recording was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedRecording {
    pub lecture_id: i64,
    pub job_id: i64,
}

/// A recording can only be uploaded for an existing session that is not cancelled, and not
/// while an earlier recording of it is still queued or being transcoded (the upload form says
/// so; `queue_recording` checks again in its transaction).
pub async fn check_recording_target(db: &Db, session_id: i64) -> Result<(), MediaError> {
    match db.session(session_id).await? {
        None => Err(MediaError::NotFound),
        Some(s) if s.is_cancelled() => Err(MediaError::SessionCancelled),
        Some(_) if db.active_job_of_session(session_id).await?.is_some() => {
            Err(MediaError::TranscodeRunning)
        }
        Some(_) => Ok(()),
    }
}

/// Store a recording as it streams in; `file_name` is the client's name for it, whose
/// extension the stored upload keeps. Nothing is stored when the stream breaks off or is empty.
pub async fn store_recording<S, B>(
    storage: &dyn Storage,
    file_name: Option<&str>,
    chunks: S,
) -> Result<StoredUpload, MediaError>
where
    S: Stream<Item = Result<B, SourceError>>,
    B: AsRef<[u8]>,
{
    let extension = file_name
        .and_then(|n| n.rsplit_once('.'))
        .map_or("", |(_, ext)| ext);
    storage::put_stream(storage, extension, chunks)
        .await
        .map_err(|e| match e {
            PutError::Source(SourceError::TooLarge) => MediaError::UploadTooLarge,
            PutError::Source(SourceError::Interrupted) => MediaError::UploadInterrupted,
            PutError::Empty => MediaError::EmptyUpload,
            PutError::Io(e) => MediaError::Internal(e.into()),
        })
}

/// Delete a stored recording that will not be transcoded (superseded within one request).
/// A failure is logged: the file is orphaned, nothing else is affected.
pub async fn discard_recording(storage: &dyn Storage, upload: &StoredUpload) {
    if let Err(e) = storage.delete_upload(&upload.key).await {
        tracing::warn!(upload = %upload.key, error = %e, "discarding an upload");
    }
}

/// Queue the transcode of a stored recording for `session_id` (creating its lecture on the
/// first upload) and wake this process's workers. If it cannot be queued, the recording is
/// deleted again.
pub async fn queue_recording(
    db: &Db,
    storage: &dyn Storage,
    wake: &Notify,
    session_id: i64,
    upload: StoredUpload,
    now: chrono::DateTime<chrono::Utc>,
    actor: Option<&crate::accounts::User>,
) -> Result<QueuedRecording, MediaError> {
    let (lecture_id, job_id) = match db.queue_recording(session_id, &upload.key).await {
        Ok(Some(ids)) => ids,
        // another upload was queued while this one streamed in
        Ok(None) => {
            discard_recording(storage, &upload).await;
            return Err(MediaError::TranscodeRunning);
        }
        Err(e) => {
            discard_recording(storage, &upload).await;
            return Err(e.into());
        }
    };
    wake.notify_waiters();
    super::audit::record(
        db,
        now,
        actor,
        super::audit::Action::RecordingUploaded,
        super::audit::Target::Lecture(lecture_id),
        serde_json::json!({"session_id": session_id, "job_id": job_id}),
    )
    .await;
    Ok(QueuedRecording { lecture_id, job_id })
}

/// A transcode job.
pub async fn job(db: &Db, id: i64) -> Result<JobRow, MediaError> {
    db.job(id).await?.ok_or(MediaError::NotFound)
}

/// Queue a failed job again with fresh attempts and wake the workers; returns the job as
/// queued.
pub async fn retry(db: &Db, wake: &Notify, id: i64) -> Result<JobRow, MediaError> {
    job(db, id).await?;
    if !db.retry_job(id).await? {
        return Err(MediaError::JobNotFailed);
    }
    wake.notify_waiters();
    job(db, id).await
}

/// The session whose recording `job` transcodes (its page shows the job).
pub async fn session_of(db: &Db, job: &JobRow) -> Result<i64, MediaError> {
    db.lecture(job.lecture_id)
        .await?
        .map(|l| l.session_id)
        .ok_or(MediaError::NotFound)
}
