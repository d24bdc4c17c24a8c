//! Where media lives: recording uploads and the published HLS versions of lectures.
//!
//! Everything the server and the worker do with media files goes through the [`Storage`]
//! trait: storing an upload as it streams in ([`put_stream`]), handing the transcoder a local
//! copy of an upload, staging a version and publishing it atomically, locating a file to
//! serve, and deleting. [`LocalFs`] keeps them under a local media root; [`s3::S3Storage`]
//! in an S3-compatible bucket (`--storage s3://…`), behind a CDN if wanted.
//!
//! Keys and file names given to a storage are checked, so a crafted path can never leave it.

use crate::archive::LectureVersion;
use crate::media::transcode::install;
use futures_util::future::BoxFuture;
use futures_util::{Stream, StreamExt};
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;

pub mod s3;

pub use s3::{ObjectFile, ObjectRead, S3Location, S3Storage, StorageUrl};

/// The storage the application uses; cheap to clone.
pub type SharedStorage = Arc<dyn Storage>;

/// The media store.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Start a new upload whose original file name ended in `.extension`. Nothing is visible
    /// under the upload's key until [`UploadWriter::commit`]; a writer dropped before that
    /// leaves nothing behind.
    fn create_upload<'a>(
        &'a self,
        extension: &'a str,
    ) -> BoxFuture<'a, io::Result<Box<dyn UploadWriter>>>;

    /// A local file with the upload's bytes, for the transcoder (the stored file itself, or a
    /// download removed with the [`LocalInput`]); `None` for a key that is not an upload key,
    /// an error of kind `NotFound` when the upload no longer exists.
    fn upload_input<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Option<LocalInput>>>;

    /// Delete an upload; a missing one is not an error.
    fn delete_upload<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<()>>;

    /// Remove what uploads interrupted by a crash or a kill left (their partial files);
    /// returns how many. Call at startup, before uploads are accepted: committed uploads,
    /// which queued jobs may still need, are kept.
    fn remove_partial_uploads(&self) -> io::Result<usize>;

    /// An empty local folder to write `version` into; dropping it removes it.
    fn stage_version(&self, version: LectureVersion) -> io::Result<TempDir>;

    /// Write the `staged` folder as `version`. Readers only ever reach a version the database
    /// points at, which it does once this returned; on a local disk the folder is moved in
    /// with one rename, on object storage every object is written (the master playlist last).
    fn publish_dir<'a>(
        &'a self,
        staged: TempDir,
        version: LectureVersion,
    ) -> BoxFuture<'a, io::Result<()>>;

    /// Delete a version; a missing one is not an error.
    fn delete_version<'a>(&'a self, version: LectureVersion) -> BoxFuture<'a, io::Result<()>>;

    /// Remove what interrupted transcodes of a lecture left (staging folders, replaced
    /// versions awaiting deletion); returns how many. Call only while no transcode of the
    /// lecture runs.
    fn remove_partials(&self, lecture_id: i64) -> io::Result<usize>;

    /// Where `file` of `version` (e.g. `master.m3u8`, `720p/seg_00001.m4s`) is served from;
    /// `None` when the name cannot be a file of a version. The file may still not exist.
    fn open_file(&self, version: LectureVersion, file: &str) -> Option<FileSource>;

    /// The local working folder of a live (`live/{session}/{live}`): the packager writes its
    /// segments and the ingest journal there while the live runs. `None` for a key that is not
    /// a safe relative path.
    fn live_work_dir(&self, key: &str) -> Option<PathBuf>;

    /// Delete a live's working folder once its replay is published; a missing one is not an
    /// error.
    fn delete_live_work_dir(&self, key: &str) -> io::Result<()>;

    /// Write `bytes` as the file `key` (the live mirror's `lives/{session}/{live}/…`),
    /// replacing it whole: a reader sees the old bytes or the new ones.
    fn put_file<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, io::Result<()>>;

    /// Where the file `key` is served from; `None` for a key that is not a safe relative path.
    fn file(&self, key: &str) -> Option<FileSource>;

    /// Delete every file under the folder `prefix`; a missing one is not an error.
    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, io::Result<()>>;
}

/// A local file with an upload's bytes, for as long as the transcoder needs it.
#[derive(Debug)]
pub struct LocalInput {
    path: PathBuf,
    /// A download from object storage, removed when this is dropped.
    _download: Option<tempfile::TempPath>,
}

impl LocalInput {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// An upload being written. Dropping it before [`commit`](UploadWriter::commit) discards it.
pub trait UploadWriter: Send {
    /// Append a chunk.
    fn write<'a>(&'a mut self, chunk: &'a [u8]) -> BoxFuture<'a, io::Result<()>>;

    /// Bytes written so far.
    fn size(&self) -> u64;

    /// Make the upload durable and visible under its key.
    fn commit(self: Box<Self>) -> BoxFuture<'static, io::Result<StoredUpload>>;
}

/// A stored upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpload {
    /// The storage key, e.g. `uploads/3f2a….mp4` (what `jobs.input_path` holds).
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// Where the bytes of a stored file come from when it is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// A file on this machine. The HTTP layer streams it itself, with Range and conditional
    /// requests, which is the fast path for segments.
    Local(PathBuf),
    /// An object in the bucket: streamed through pufa or redirected to with a presigned URL
    /// (`--media-delivery`).
    Object(ObjectFile),
}

impl FileSource {
    /// The whole file as text (a playlist); an error of kind `NotFound` when it is missing.
    pub async fn read_to_string(&self) -> io::Result<String> {
        match self {
            FileSource::Local(path) => tokio::fs::read_to_string(path).await,
            FileSource::Object(object) => object.read_to_string().await,
        }
    }
}

/// Why the incoming bytes of an upload stopped before their end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The body exceeded the upload size limit.
    #[error("the upload is larger than allowed")]
    TooLarge,
    /// The connection broke or the body was malformed.
    #[error("the upload was interrupted")]
    Interrupted,
}

/// Why [`put_stream`] stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The stream held no bytes.
    #[error("the upload is empty")]
    Empty,
    #[error("storing the upload: {0}")]
    Io(#[from] io::Error),
}

/// Store a stream of chunks as a new upload. On any failure (the source, the disk, an empty
/// stream) nothing is left behind.
pub async fn put_stream<S, B>(
    storage: &dyn Storage,
    extension: &str,
    chunks: S,
) -> Result<StoredUpload, PutError>
where
    S: Stream<Item = Result<B, SourceError>>,
    B: AsRef<[u8]>,
{
    let mut writer = storage.create_upload(extension).await?;
    let mut chunks = std::pin::pin!(chunks);
    while let Some(chunk) = chunks.next().await {
        writer.write(chunk?.as_ref()).await?;
    }
    if writer.size() == 0 {
        return Err(PutError::Empty);
    }
    Ok(writer.commit().await?)
}

/// Media under a local folder: `uploads/` and `lectures/{lecture}/v{job}/`.
#[derive(Debug, Clone)]
pub struct LocalFs {
    root: PathBuf,
}

/// The folder of uploads under the root.
const UPLOADS: &str = "uploads";
/// The suffix of an upload being written.
const PARTIAL_SUFFIX: &str = ".part";

/// True for a path segment we ever create: letters, digits, '.', '_' and '-', not starting
/// with a dot.
fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The extension an upload is stored with: up to 8 letters and digits, lower case; `bin` when
/// nothing usable is left.
fn upload_extension(extension: &str) -> String {
    let ext: String = extension
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    if ext.is_empty() {
        "bin".into()
    } else {
        ext
    }
}

/// Remove a folder tree; a missing one is fine.
fn remove_tree(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

impl LocalFs {
    pub fn new(root: impl Into<PathBuf>) -> LocalFs {
        LocalFs { root: root.into() }
    }

    /// The absolute path of a relative media path, or `None` when it is not a plain relative
    /// path of safe segments (no `..`, no absolute paths, no hidden files).
    fn resolve(&self, relative: &str) -> Option<PathBuf> {
        let rel = Path::new(relative);
        let mut out = self.root.clone();
        for c in rel.components() {
            match c {
                Component::Normal(s) => {
                    let s = s.to_str()?;
                    if !safe_segment(s) {
                        return None;
                    }
                    out.push(s);
                }
                _ => return None,
            }
        }
        (out != self.root).then_some(out)
    }

    /// The file of an upload key (`uploads/NAME`); `None` for anything else.
    fn upload_path(&self, key: &str) -> Option<PathBuf> {
        key.strip_prefix(UPLOADS)
            .is_some_and(|rest| rest.starts_with('/'))
            .then(|| self.resolve(key))
            .flatten()
    }

    fn version_dir(&self, version: LectureVersion) -> PathBuf {
        self.root.join(version.path())
    }
}

impl Storage for LocalFs {
    fn create_upload<'a>(
        &'a self,
        extension: &'a str,
    ) -> BoxFuture<'a, io::Result<Box<dyn UploadWriter>>> {
        Box::pin(async move {
            let dir = self.root.join(UPLOADS);
            tokio::fs::create_dir_all(&dir).await?;
            let name = format!(
                "{}.{}",
                uuid::Uuid::new_v4().simple(),
                upload_extension(extension)
            );
            let partial = dir.join(format!("{name}{PARTIAL_SUFFIX}"));
            let file = tokio::fs::File::create(&partial).await?;
            Ok(Box::new(LocalUpload {
                key: format!("{UPLOADS}/{name}"),
                final_path: dir.join(&name),
                guard: PartialFile(Some(partial)),
                file,
                size: 0,
            }) as Box<dyn UploadWriter>)
        })
    }

    fn upload_input<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Option<LocalInput>>> {
        Box::pin(async move {
            let Some(path) = self.upload_path(key) else {
                return Ok(None);
            };
            if !tokio::fs::metadata(&path).await?.is_file() {
                return Err(io::Error::new(io::ErrorKind::NotFound, "not a file"));
            }
            Ok(Some(LocalInput {
                path,
                _download: None,
            }))
        })
    }

    fn delete_upload<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let Some(path) = self.upload_path(key) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("not an upload key: {key:?}"),
                ));
            };
            match tokio::fs::remove_file(path).await {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        })
    }

    fn remove_partial_uploads(&self) -> io::Result<usize> {
        let entries = match std::fs::read_dir(self.root.join(UPLOADS)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry?;
            let partial = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.ends_with(PARTIAL_SUFFIX));
            if partial && entry.file_type()?.is_file() {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }

    fn stage_version(&self, version: LectureVersion) -> io::Result<TempDir> {
        // next to the version's folder, so publishing is a rename on one file system
        let parent = self
            .root
            .join(LectureVersion::lecture_dir(version.lecture_id));
        std::fs::create_dir_all(&parent)?;
        install::staging_dir(&parent, &version.dir_name())
    }

    fn publish_dir<'a>(
        &'a self,
        staged: TempDir,
        version: LectureVersion,
    ) -> BoxFuture<'a, io::Result<()>> {
        let target = self.version_dir(version);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || install::publish(staged, &target))
                .await
                .map_err(io::Error::other)?
        })
    }

    fn delete_version<'a>(&'a self, version: LectureVersion) -> BoxFuture<'a, io::Result<()>> {
        let dir = self.version_dir(version);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || remove_tree(&dir))
                .await
                .map_err(io::Error::other)?
        })
    }

    fn remove_partials(&self, lecture_id: i64) -> io::Result<usize> {
        install::remove_all_stale_partials(&self.root.join(LectureVersion::lecture_dir(lecture_id)))
    }

    fn open_file(&self, version: LectureVersion, file: &str) -> Option<FileSource> {
        self.resolve(&format!("{}/{file}", version.path()))
            .map(FileSource::Local)
    }

    fn live_work_dir(&self, key: &str) -> Option<PathBuf> {
        key.starts_with("live/")
            .then(|| self.resolve(key))
            .flatten()
    }

    fn delete_live_work_dir(&self, key: &str) -> io::Result<()> {
        match self.live_work_dir(key) {
            Some(dir) => remove_tree(&dir),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a live folder: {key}"),
            )),
        }
    }

    fn put_file<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let path = self.resolve(key).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("not a file key: {key}"),
                )
            })?;
            let dir = path
                .parent()
                .ok_or_else(|| io::Error::other("a file key without a folder"))?;
            tokio::fs::create_dir_all(dir).await?;
            // written beside, then renamed over: readers never see half a playlist
            let partial = dir.join(format!(
                ".{}{PARTIAL_SUFFIX}",
                uuid::Uuid::new_v4().simple()
            ));
            tokio::fs::write(&partial, &bytes).await?;
            if let Err(e) = tokio::fs::rename(&partial, &path).await {
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(e);
            }
            Ok(())
        })
    }

    fn file(&self, key: &str) -> Option<FileSource> {
        self.resolve(key).map(FileSource::Local)
    }

    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, io::Result<()>> {
        let dir = self.resolve(prefix);
        Box::pin(async move {
            let dir = dir.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("not a folder: {prefix}"),
                )
            })?;
            tokio::task::spawn_blocking(move || remove_tree(&dir))
                .await
                .map_err(io::Error::other)?
        })
    }
}

/// An upload being written to `uploads/NAME.part`, renamed to `uploads/NAME` on commit.
struct LocalUpload {
    key: String,
    final_path: PathBuf,
    file: tokio::fs::File,
    guard: PartialFile,
    size: u64,
}

/// Removes the partial file when dropped, unless disarmed: whatever fails while an upload is
/// written (the client, the disk, a panic), no `.part` file stays behind.
struct PartialFile(Option<PathBuf>);

impl PartialFile {
    fn path(&self) -> io::Result<&Path> {
        self.0
            .as_deref()
            .ok_or_else(|| io::Error::other("the upload was already committed"))
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(error = %e, path = %path.display(), "removing a partial upload")
                }
            }
        }
    }
}

impl UploadWriter for LocalUpload {
    fn write<'a>(&'a mut self, chunk: &'a [u8]) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            self.file.write_all(chunk).await?;
            self.size += chunk.len() as u64;
            Ok(())
        })
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, io::Result<StoredUpload>> {
        Box::pin(async move {
            let LocalUpload {
                key,
                final_path,
                file,
                mut guard,
                size,
            } = *self;
            file.sync_all().await?;
            drop(file);
            tokio::fs::rename(guard.path()?, &final_path).await?;
            guard.0 = None;
            Ok(StoredUpload { key, size })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_refuses_escapes() {
        let s = LocalFs::new("/srv/media");
        assert_eq!(
            s.resolve("lectures/1/v2/master.m3u8"),
            Some(PathBuf::from("/srv/media/lectures/1/v2/master.m3u8"))
        );
        for bad in [
            "../etc/passwd",
            "lectures/../../x",
            "/etc/passwd",
            "lectures/.hidden",
            "lectures/a b",
            "",
            "lectures/%2e%2e/x",
        ] {
            assert_eq!(s.resolve(bad), None, "{bad}");
        }
        let v = LectureVersion::new(1, 2);
        assert_eq!(
            s.open_file(v, "720p/seg_00001.m4s"),
            Some(FileSource::Local(PathBuf::from(
                "/srv/media/lectures/1/v2/720p/seg_00001.m4s"
            )))
        );
        assert_eq!(s.open_file(v, "../../v3/master.m3u8"), None);
        assert_eq!(s.upload_path("lectures/1/v2/master.m3u8"), None);
        assert_eq!(s.upload_path("uploadsx/a.mp4"), None);
    }

    fn chunks(
        parts: Vec<Result<&'static [u8], SourceError>>,
    ) -> impl Stream<Item = Result<&'static [u8], SourceError>> {
        futures_util::stream::iter(parts)
    }

    fn uploads(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir.join(UPLOADS))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn uploads_are_stored_whole_or_not_at_all() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = LocalFs::new(dir.path());
        let stored = put_stream(&s, "MP4", chunks(vec![Ok(b"abc"), Ok(b"de")]))
            .await
            .expect("stored");
        assert!(stored.key.starts_with("uploads/") && stored.key.ends_with(".mp4"));
        assert_eq!(stored.size, 5);
        let input = s
            .upload_input(&stored.key)
            .await
            .expect("exists")
            .expect("an upload key");
        assert_eq!(std::fs::read(input.path()).expect("read"), b"abcde");

        let broken = put_stream(
            &s,
            "../../x",
            chunks(vec![Ok(b"abc"), Err(SourceError::TooLarge)]),
        )
        .await;
        assert!(matches!(
            broken,
            Err(PutError::Source(SourceError::TooLarge))
        ));
        let empty = put_stream(&s, "mp4", chunks(vec![])).await;
        assert!(matches!(empty, Err(PutError::Empty)));
        assert_eq!(uploads(dir.path()).len(), 1, "{:?}", uploads(dir.path()));

        s.delete_upload(&stored.key).await.expect("delete");
        s.delete_upload(&stored.key)
            .await
            .expect("deleting twice is fine");
        assert!(uploads(dir.path()).is_empty());
        assert!(s.delete_upload("lectures/1/v2").await.is_err());
        let gone = s.upload_input(&stored.key).await.expect_err("deleted");
        assert_eq!(gone.kind(), io::ErrorKind::NotFound);
    }

    /// Before the fix a `.part` left by a crash stayed in `uploads/` for ever.
    #[tokio::test]
    async fn partial_uploads_left_by_a_crash_are_removed_and_uploads_kept() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = LocalFs::new(dir.path());
        assert_eq!(
            s.remove_partial_uploads().expect("no uploads folder yet"),
            0
        );
        let kept = put_stream(&s, "mp4", chunks(vec![Ok(b"abc")]))
            .await
            .expect("stored");
        let uploads_dir = dir.path().join(UPLOADS);
        std::fs::write(uploads_dir.join("0123.mp4.part"), b"half").expect("write");
        std::fs::write(uploads_dir.join("4567.bin.part"), b"").expect("write");
        std::fs::create_dir(uploads_dir.join("odd.part")).expect("dir");
        assert_eq!(s.remove_partial_uploads().expect("sweep"), 2);
        let mut left = uploads(dir.path());
        left.sort();
        let kept_name = kept.key.trim_start_matches("uploads/").to_string();
        assert_eq!(left, vec![kept_name, "odd.part".to_string()]);
    }

    #[tokio::test]
    async fn versions_are_staged_published_and_swept() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = LocalFs::new(dir.path());
        let v = LectureVersion::new(4, 9);
        let staged = s.stage_version(v).expect("stage");
        std::fs::write(staged.path().join("master.m3u8"), "#EXTM3U\n").expect("write");
        let leftover = s.stage_version(LectureVersion::new(4, 8)).expect("stage");
        let _kept = leftover.keep();
        s.publish_dir(staged, v).await.expect("publish");
        assert_eq!(s.remove_partials(4).expect("sweep"), 1);
        let names: Vec<_> = std::fs::read_dir(dir.path().join("lectures/4"))
            .expect("read")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("v9")]);
        assert!(matches!(
            s.open_file(v, "master.m3u8"),
            Some(FileSource::Local(p)) if p.is_file()
        ));
        s.delete_version(v).await.expect("delete");
        s.delete_version(v).await.expect("deleting twice is fine");
        assert_eq!(s.remove_partials(5).expect("no lecture folder"), 0);
    }
}
