//! Media on S3-compatible object storage (`--storage s3://bucket?endpoint=…&region=…`).
//!
//! Objects are named as the files of [`LocalFs`](super::LocalFs): `uploads/{uuid}.{ext}` and
//! `lectures/{lecture}/v{job}/…`. What must be a local file stays local, in the scratch folder
//! (the `--media` directory): a version is transcoded into a local staging folder and then
//! uploaded, the transcoder reads a local download of its upload, and a live's packager writes
//! its working folder there. A version is published when every one of its objects is written
//! and the database row points at it (the job's completion); a half-uploaded version is never
//! pointed at, and a retry of the job deletes it before writing again.
//!
//! Credentials come from the usual AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, instance or container credentials).

use super::{FileSource, LocalFs, LocalInput, Storage, StoredUpload, UploadWriter, UPLOADS};
use crate::archive::LectureVersion;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{GetOptions, GetRange, GetResult, ObjectStore, PutPayload};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;

/// Files at most this large are uploaded in one request when a version is published; larger
/// ones in parts.
const SINGLE_PUT_BYTES: u64 = 32 * 1024 * 1024;
/// Objects written at once while a version is published.
const PUBLISH_CONCURRENCY: usize = 8;

/// Where `--storage` puts media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// The local media folder (the default).
    Local,
    /// An S3-compatible bucket.
    S3(S3Location),
}

/// A bucket and how to reach it.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// `http(s)://host:port` of an S3-compatible server; AWS when absent.
    pub endpoint: Option<String>,
    pub region: Option<String>,
}

impl fmt::Debug for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // never credentials here: they come from the environment
        f.debug_struct("S3Location")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish()
    }
}

impl std::str::FromStr for StorageUrl {
    type Err = String;

    /// `local` (or empty) or `s3://bucket?endpoint=http://host:9000&region=us-east-1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() || s == "local" {
            return Ok(StorageUrl::Local);
        }
        let Some(rest) = s.strip_prefix("s3://") else {
            return Err(format!(
                "unknown storage {s:?}: use `local` or `s3://bucket?endpoint=…&region=…`"
            ));
        };
        let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
        let bucket = bucket.trim_end_matches('/');
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'));
        if !valid_bucket {
            return Err(format!(
                "{bucket:?} is not a bucket name (3–63 lower-case letters, digits, '-' and '.'; no key prefix)"
            ));
        }
        let mut location = S3Location {
            bucket: bucket.to_string(),
            endpoint: None,
            region: None,
        };
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query).map_err(|e| format!("storage URL query: {e}"))?;
        for (key, value) in pairs {
            match key.as_str() {
                "endpoint" => {
                    if !(value.starts_with("http://") || value.starts_with("https://")) {
                        return Err(format!("endpoint {value:?} must be an http(s):// URL"));
                    }
                    location.endpoint = Some(value.trim_end_matches('/').to_string());
                }
                "region" => location.region = Some(value),
                other => return Err(format!("unknown storage URL parameter {other:?}")),
            }
        }
        Ok(StorageUrl::S3(location))
    }
}

/// Media in an S3-compatible bucket, with a local scratch folder.
#[derive(Debug, Clone)]
pub struct S3Storage {
    store: Arc<AmazonS3>,
    scratch: LocalFs,
    scratch_root: PathBuf,
    bucket: String,
}

/// An object of a published version, to be streamed or redirected to.
#[derive(Debug, Clone)]
pub struct ObjectFile {
    store: Arc<AmazonS3>,
    path: ObjectPath,
}

impl PartialEq for ObjectFile {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}
impl Eq for ObjectFile {}

/// What a conditional or ranged read of an object gave.
pub enum ObjectRead {
    /// The bytes (all, or the range asked for).
    Body(GetResult),
    /// The client's copy (`If-None-Match`) is current.
    NotModified,
    /// The range does not overlap the object.
    RangeNotSatisfiable,
}

fn to_io(e: object_store::Error) -> io::Error {
    let kind = match e {
        object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

impl ObjectFile {
    /// The object's key in the bucket.
    pub fn key(&self) -> &str {
        self.path.as_ref()
    }

    /// Read the object, or the byte `range` of it, unless `if_none_match` names its current
    /// entity tag.
    pub async fn get(
        &self,
        range: Option<GetRange>,
        if_none_match: Option<String>,
    ) -> io::Result<ObjectRead> {
        let options = GetOptions {
            range,
            if_none_match,
            ..GetOptions::default()
        };
        match self.store.get_opts(&self.path, options).await {
            Ok(result) => Ok(ObjectRead::Body(result)),
            Err(object_store::Error::NotModified { .. }) => Ok(ObjectRead::NotModified),
            Err(object_store::Error::Generic { source, .. })
                if source.to_string().contains("416")
                    || source.to_string().contains("InvalidRange")
                    || source.to_string().contains("range") =>
            {
                Ok(ObjectRead::RangeNotSatisfiable)
            }
            Err(e) => Err(to_io(e)),
        }
    }

    /// The whole object as text (a playlist).
    pub async fn read_to_string(&self) -> io::Result<String> {
        let bytes = self
            .store
            .get(&self.path)
            .await
            .map_err(to_io)?
            .bytes()
            .await
            .map_err(to_io)?;
        String::from_utf8(bytes.to_vec()).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// A URL that lets its holder `GET` the object for `ttl`, signed with the storage's
    /// credentials.
    pub async fn presigned_get(&self, ttl: Duration) -> io::Result<String> {
        self.store
            .signed_url(reqwest::Method::GET, &self.path, ttl)
            .await
            .map(String::from)
            .map_err(to_io)
    }
}

impl S3Storage {
    /// Connect to `location`; `scratch` is the local folder for staging, downloads and live
    /// working folders.
    pub fn new(location: &S3Location, scratch: impl Into<PathBuf>) -> io::Result<S3Storage> {
        Self::build(AmazonS3Builder::from_env(), location, scratch.into())
    }

    /// [`new`](Self::new) with these credentials instead of the environment's.
    pub fn with_credentials(
        location: &S3Location,
        scratch: impl Into<PathBuf>,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> io::Result<S3Storage> {
        let builder = AmazonS3Builder::new()
            .with_access_key_id(access_key_id)
            .with_secret_access_key(secret_access_key);
        Self::build(builder, location, scratch.into())
    }

    fn build(
        builder: AmazonS3Builder,
        location: &S3Location,
        scratch_root: PathBuf,
    ) -> io::Result<S3Storage> {
        let mut builder = builder.with_bucket_name(&location.bucket);
        if let Some(endpoint) = &location.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if let Some(region) = &location.region {
            builder = builder.with_region(region);
        }
        let store = builder.build().map_err(to_io)?;
        Ok(S3Storage {
            store: Arc::new(store),
            scratch: LocalFs::new(scratch_root.clone()),
            scratch_root,
            bucket: location.bucket.clone(),
        })
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Check the bucket can be listed (at startup, so a wrong endpoint or credential is an
    /// error then, not at the first upload).
    pub async fn check(&self) -> io::Result<()> {
        let mut listing = self.store.list(Some(&ObjectPath::from(UPLOADS)));
        match listing.next().await {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(to_io(e)),
        }
    }

    /// The object path of a relative media path made of safe segments.
    fn object_path(relative: &str) -> Option<ObjectPath> {
        let segments: Vec<&str> = relative.split('/').collect();
        (!segments.is_empty() && segments.iter().all(|s| super::safe_segment(s)))
            .then(|| ObjectPath::from_iter(segments))
    }

    fn upload_path(key: &str) -> Option<ObjectPath> {
        key.strip_prefix(UPLOADS)
            .is_some_and(|rest| rest.starts_with('/'))
            .then(|| Self::object_path(key))
            .flatten()
    }

    async fn delete_objects_under(&self, prefix: &str) -> io::Result<()> {
        let prefix = ObjectPath::from(prefix);
        let locations = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .boxed();
        self.store
            .delete_stream(locations)
            .try_for_each(|_| async { Ok(()) })
            .await
            .map_err(to_io)
    }

    async fn put_file(&self, file: PathBuf, path: ObjectPath) -> io::Result<()> {
        let size = tokio::fs::metadata(&file).await?.len();
        if size <= SINGLE_PUT_BYTES {
            let bytes = tokio::fs::read(&file).await?;
            self.store
                .put(&path, PutPayload::from(bytes))
                .await
                .map_err(to_io)?;
            return Ok(());
        }
        let mut writer = BufWriter::new(self.store.clone(), path);
        let mut input = tokio::fs::File::open(&file).await?;
        let result = async {
            let mut buf = vec![0u8; 4 * 1024 * 1024];
            loop {
                let n = tokio::io::AsyncReadExt::read(&mut input, &mut buf).await?;
                if n == 0 {
                    break;
                }
                writer
                    .put(Bytes::copy_from_slice(&buf[..n]))
                    .await
                    .map_err(to_io)?;
            }
            writer.shutdown().await
        }
        .await;
        if result.is_err() {
            if let Err(e) = writer.abort().await {
                tracing::warn!(error = %e, "aborting a multipart upload");
            }
        }
        result
    }
}

/// Every file under `dir`, as (absolute path, path relative to `dir` with `/`).
fn files_under(dir: &Path) -> io::Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                let path = entry.path();
                let rel = path
                    .strip_prefix(dir)
                    .map_err(io::Error::other)?
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((path, rel));
            }
        }
    }
    Ok(out)
}

impl Storage for S3Storage {
    fn create_upload<'a>(
        &'a self,
        extension: &'a str,
    ) -> BoxFuture<'a, io::Result<Box<dyn UploadWriter>>> {
        Box::pin(async move {
            let key = format!(
                "{UPLOADS}/{}.{}",
                uuid::Uuid::new_v4().simple(),
                super::upload_extension(extension)
            );
            let path = ObjectPath::from(key.as_str());
            let writer = BufWriter::new(self.store.clone(), path);
            Ok(Box::new(S3Upload {
                key,
                writer: Some(writer),
                size: 0,
            }) as Box<dyn UploadWriter>)
        })
    }

    fn upload_input<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Option<LocalInput>>> {
        Box::pin(async move {
            let Some(path) = Self::upload_path(key) else {
                return Ok(None);
            };
            let result = self.store.get(&path).await.map_err(to_io)?;
            let dir = self.scratch_root.join("downloads");
            tokio::fs::create_dir_all(&dir).await?;
            let download = tempfile::Builder::new()
                .prefix("upload-")
                .suffix(&format!(".{}", key.rsplit('.').next().unwrap_or("bin")))
                .tempfile_in(&dir)?
                .into_temp_path();
            let mut file = tokio::fs::File::create(&download).await?;
            let mut chunks = result.into_stream();
            while let Some(chunk) = chunks.next().await {
                file.write_all(&chunk.map_err(to_io)?).await?;
            }
            file.sync_all().await?;
            Ok(Some(LocalInput {
                path: download.to_path_buf(),
                _download: Some(download),
            }))
        })
    }

    fn delete_upload<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let Some(path) = Self::upload_path(key) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("not an upload key: {key:?}"),
                ));
            };
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(to_io(e)),
            }
        })
    }

    fn remove_partial_uploads(&self) -> io::Result<usize> {
        // an upload cut off mid-way is an unfinished multipart upload, invisible under its
        // key; the bucket's lifecycle rule (AbortIncompleteMultipartUpload) removes it. The
        // scratch folder's downloads are ours alone.
        let downloads = self.scratch_root.join("downloads");
        let left = match std::fs::read_dir(&downloads) {
            Ok(entries) => entries.count(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        super::remove_tree(&downloads)?;
        Ok(left)
    }

    fn stage_version(&self, version: LectureVersion) -> io::Result<TempDir> {
        self.scratch.stage_version(version)
    }

    fn publish_dir<'a>(
        &'a self,
        staged: TempDir,
        version: LectureVersion,
    ) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let base = version.path();
            let files = files_under(staged.path())?;
            // the master playlist last: a reader who finds it finds everything it names
            let (masters, rest): (Vec<_>, Vec<_>) =
                files.into_iter().partition(|(_, rel)| rel == "master.m3u8");
            for batch in [rest, masters] {
                futures_util::stream::iter(batch.into_iter().map(|(file, rel)| {
                    let key = format!("{base}/{rel}");
                    async move {
                        let path = Self::object_path(&key).ok_or_else(|| {
                            io::Error::new(io::ErrorKind::InvalidData, format!("file name {rel:?}"))
                        })?;
                        self.put_file(file, path).await
                    }
                }))
                .buffer_unordered(PUBLISH_CONCURRENCY)
                .try_collect::<Vec<()>>()
                .await?;
            }
            drop(staged);
            Ok(())
        })
    }

    fn delete_version<'a>(&'a self, version: LectureVersion) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            self.scratch.delete_version(version).await?;
            self.delete_objects_under(&version.path()).await
        })
    }

    fn remove_partials(&self, lecture_id: i64) -> io::Result<usize> {
        self.scratch.remove_partials(lecture_id)
    }

    fn open_file(&self, version: LectureVersion, file: &str) -> Option<FileSource> {
        Self::object_path(&format!("{}/{file}", version.path())).map(|path| {
            FileSource::Object(ObjectFile {
                store: self.store.clone(),
                path,
            })
        })
    }

    fn live_work_dir(&self, key: &str) -> Option<PathBuf> {
        self.scratch.live_work_dir(key)
    }

    fn delete_live_work_dir(&self, key: &str) -> io::Result<()> {
        self.scratch.delete_live_work_dir(key)
    }

    fn put_file<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let path = Self::object_path(key).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("not a file key: {key}"),
                )
            })?;
            self.store
                .put(&path, PutPayload::from(bytes))
                .await
                .map_err(to_io)?;
            Ok(())
        })
    }

    fn file(&self, key: &str) -> Option<FileSource> {
        Self::object_path(key).map(|path| {
            FileSource::Object(ObjectFile {
                store: self.store.clone(),
                path,
            })
        })
    }

    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            if Self::object_path(prefix).is_none() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("not a folder: {prefix}"),
                ));
            }
            self.delete_objects_under(prefix).await
        })
    }
}

/// An upload streamed into a (multipart) object; nothing is visible under the key until
/// [`commit`](UploadWriter::commit), and a writer dropped before that aborts the multipart
/// upload.
struct S3Upload {
    key: String,
    writer: Option<BufWriter>,
    size: u64,
}

impl UploadWriter for S3Upload {
    fn write<'a>(&'a mut self, chunk: &'a [u8]) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let writer = self
                .writer
                .as_mut()
                .ok_or_else(|| io::Error::other("the upload was already committed"))?;
            writer
                .put(Bytes::copy_from_slice(chunk))
                .await
                .map_err(to_io)?;
            self.size += chunk.len() as u64;
            Ok(())
        })
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn commit(mut self: Box<Self>) -> BoxFuture<'static, io::Result<StoredUpload>> {
        Box::pin(async move {
            let mut writer = self
                .writer
                .take()
                .ok_or_else(|| io::Error::other("the upload was already committed"))?;
            writer.shutdown().await?;
            Ok(StoredUpload {
                key: std::mem::take(&mut self.key),
                size: self.size,
            })
        })
    }
}

impl Drop for S3Upload {
    fn drop(&mut self) {
        let Some(mut writer) = self.writer.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if let Err(e) = writer.abort().await {
                        tracing::warn!(error = %e, "aborting an interrupted upload");
                    }
                });
            }
            Err(_) => tracing::warn!("an interrupted upload could not be aborted"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_urls_parse_or_say_what_is_wrong() {
        assert_eq!("".parse::<StorageUrl>(), Ok(StorageUrl::Local));
        assert_eq!("local".parse::<StorageUrl>(), Ok(StorageUrl::Local));
        assert_eq!(
            "s3://pufa-media?endpoint=http://127.0.0.1:9000/&region=cn-north-1"
                .parse::<StorageUrl>(),
            Ok(StorageUrl::S3(S3Location {
                bucket: "pufa-media".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: Some("cn-north-1".into()),
            }))
        );
        assert_eq!(
            "s3://media".parse::<StorageUrl>(),
            Ok(StorageUrl::S3(S3Location {
                bucket: "media".into(),
                endpoint: None,
                region: None,
            }))
        );
        for bad in [
            "ftp://x",
            "s3://Upper",
            "s3://ab",
            "s3://bucket/prefix",
            "s3://bucket?endpoint=127.0.0.1:9000",
            "s3://bucket?secret=x",
        ] {
            assert!(bad.parse::<StorageUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn object_paths_refuse_escapes() {
        assert_eq!(
            S3Storage::object_path("lectures/1/v2/720p/seg_00001.m4s").map(|p| p.to_string()),
            Some("lectures/1/v2/720p/seg_00001.m4s".to_string())
        );
        for bad in [
            "../x",
            "lectures/../x",
            "/etc/passwd",
            "a//b",
            "lectures/.h",
            "",
        ] {
            assert_eq!(S3Storage::object_path(bad), None, "{bad}");
        }
        assert!(S3Storage::upload_path("uploads/ab.mp4").is_some());
        assert!(S3Storage::upload_path("lectures/1/v2/master.m3u8").is_none());
        assert!(S3Storage::upload_path("uploadsx/a.mp4").is_none());
    }
}
