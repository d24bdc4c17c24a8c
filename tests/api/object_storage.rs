//! Media in S3-compatible object storage (issue 18), against a real S3 server process:
//! s3s-fs (the `s3s` project's file-system backed server), installed by `make test` with
//! `cargo install` into a cache and started here on a free port with its own credentials.
//!
//! - the storage itself: uploads stored whole or not at all, downloaded for the transcoder,
//!   versions published and deleted, objects read with ranges and presigned URLs;
//! - end to end through processes: `pufa serve --storage s3://…` takes an upload, a
//!   `pufa worker` on the same bucket transcodes and publishes it, the server streams the
//!   playlists and segments from the bucket (Range answered), a second server with
//!   `--media-delivery presigned` redirects segment requests to presigned URLs, and nothing of
//!   the lecture is left on the local disk.

use crate::helpers::{ChildGuard, TestApp};
use pufa::archive::LectureVersion;
use pufa::media::storage::{
    put_stream, FileSource, ObjectRead, S3Location, S3Storage, SourceError, Storage,
};
use reqwest::StatusCode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const ACCESS_KEY: &str = "pufa-test";
const SECRET_KEY: &str = "pufa-test-secret-key";
const BUCKET: &str = "pufa-media";

/// The s3s-fs binary: `PUFA_S3S_FS` (set by `make test`), else where `make s3-tool` puts it.
fn s3s_fs() -> PathBuf {
    if let Some(path) = std::env::var_os("PUFA_S3S_FS") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("HOME");
    cache.join("pufa-tools/bin/s3s-fs")
}

/// A running s3s-fs with one bucket, serving a temporary folder; stopped on drop.
pub struct S3Server {
    _process: ChildGuard,
    root: tempfile::TempDir,
    port: u16,
}

impl S3Server {
    pub fn start() -> S3Server {
        let binary = s3s_fs();
        assert!(
            binary.is_file(),
            "{} is missing: `make s3-tool` installs s3s-fs (or set PUFA_S3S_FS)",
            binary.display()
        );
        let root = tempfile::Builder::new()
            .prefix("pufa-s3")
            .tempdir()
            .expect("tempdir");
        // a bucket of s3s-fs is a folder under its root
        std::fs::create_dir(root.path().join(BUCKET)).expect("bucket folder");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let server = S3Server {
            _process: ChildGuard::from_child(child),
            root,
            port,
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("s3s-fs did not listen on port {port}");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `--storage` for pufa.
    pub fn storage_url(&self) -> String {
        format!(
            "s3://{BUCKET}?endpoint={}&region=us-east-1",
            self.endpoint()
        )
    }

    pub fn location(&self) -> S3Location {
        S3Location {
            bucket: BUCKET.into(),
            endpoint: Some(self.endpoint()),
            region: Some("us-east-1".into()),
        }
    }

    /// A storage on the bucket, with its scratch folder in `scratch`.
    pub fn storage(&self, scratch: &Path) -> S3Storage {
        S3Storage::with_credentials(&self.location(), scratch, ACCESS_KEY, SECRET_KEY)
            .expect("storage")
    }

    /// Every object key in the bucket (s3s-fs keeps objects as files under the bucket folder,
    /// beside its own metadata).
    pub fn keys(&self) -> Vec<String> {
        let bucket = self.root.path().join(BUCKET);
        let mut out = Vec::new();
        let mut pending = vec![bucket.clone()];
        while let Some(dir) = pending.pop() {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = e.path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let rel = path.strip_prefix(&bucket).unwrap().to_string_lossy();
                    if !rel.starts_with('.') && !rel.contains("/.") {
                        out.push(rel.into_owned());
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// Point pufa processes started on `dir` at this bucket (see
    /// [`crate::helpers::use_database_of`]).
    pub fn use_for(&self, dir: &Path) {
        let settings = format!(
            "PUFA_STORAGE={}\nAWS_ACCESS_KEY_ID={ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY={SECRET_KEY}\n",
            self.storage_url()
        );
        std::fs::write(dir.join("storage.env"), settings).expect("storage.env");
    }
}

fn chunks(
    parts: Vec<Result<&'static [u8], SourceError>>,
) -> impl futures_util::Stream<Item = Result<&'static [u8], SourceError>> {
    futures_util::stream::iter(parts)
}

#[tokio::test]
async fn a_bucket_keeps_uploads_and_versions_like_the_disk() {
    let s3 = S3Server::start();
    let scratch = tempfile::tempdir().unwrap();
    let storage = s3.storage(scratch.path());
    storage.check().await.expect("bucket reachable");

    // an upload is stored whole, and handed to the transcoder as a local file
    let stored = put_stream(&storage, "MP4", chunks(vec![Ok(b"abc"), Ok(b"de")]))
        .await
        .expect("stored");
    assert!(stored.key.starts_with("uploads/") && stored.key.ends_with(".mp4"));
    assert_eq!(stored.size, 5);
    assert_eq!(s3.keys(), vec![stored.key.clone()]);
    let input = storage
        .upload_input(&stored.key)
        .await
        .expect("download")
        .expect("an upload key");
    assert_eq!(std::fs::read(input.path()).unwrap(), b"abcde");
    let downloaded = input.path().to_path_buf();
    drop(input);
    assert!(
        !downloaded.exists(),
        "the download is removed with its handle"
    );

    // an interrupted upload, and an empty one, leave no object
    let broken = put_stream(
        &storage,
        "mp4",
        chunks(vec![Ok(b"abc"), Err(SourceError::Interrupted)]),
    )
    .await;
    assert!(broken.is_err());
    assert!(put_stream(&storage, "mp4", chunks(vec![])).await.is_err());
    assert_eq!(s3.keys(), vec![stored.key.clone()]);

    // a version: staged locally, published as objects, read back with ranges and presigned
    let v = LectureVersion::new(7, 42);
    let staged = storage.stage_version(v).expect("stage");
    std::fs::create_dir(staged.path().join("720p")).unwrap();
    std::fs::write(staged.path().join("master.m3u8"), "#EXTM3U\n").unwrap();
    let segment: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(staged.path().join("720p/seg_00001.m4s"), &segment).unwrap();
    storage.publish_dir(staged, v).await.expect("publish");
    let keys = s3.keys();
    assert!(
        keys.contains(&"lectures/7/v42/master.m3u8".to_string()),
        "{keys:?}"
    );
    assert!(keys.contains(&"lectures/7/v42/720p/seg_00001.m4s".to_string()));
    assert_eq!(
        storage.remove_partials(7).expect("nothing staged is left"),
        0
    );

    let Some(FileSource::Object(object)) = storage.open_file(v, "720p/seg_00001.m4s") else {
        panic!("an object");
    };
    let ObjectRead::Body(part) = object
        .get(Some(object_store::GetRange::Bounded(1000..1100)), None)
        .await
        .unwrap()
    else {
        panic!("a body");
    };
    assert_eq!(part.range, 1000..1100);
    assert_eq!(part.meta.size, 100_000);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &segment[1000..1100]);
    let url = object
        .presigned_get(Duration::from_secs(60))
        .await
        .expect("presign");
    let fetched = reqwest::get(&url).await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), segment.as_slice());
    // without the signature the bucket refuses
    let unsigned = url.split('?').next().unwrap();
    assert!(reqwest::get(unsigned)
        .await
        .unwrap()
        .status()
        .is_client_error());
    assert_eq!(storage.open_file(v, "../v41/master.m3u8"), None);

    // the live mirror's files: written whole, read back, deleted by folder
    storage
        .put_file("lives/3/9/720p/index.m3u8", b"#EXTM3U\n".to_vec())
        .await
        .expect("put");
    storage
        .put_file(
            "lives/3/9/master.m3u8",
            b"#EXTM3U\n#EXT-X-VERSION:9\n".to_vec(),
        )
        .await
        .expect("put");
    let master = storage.file("lives/3/9/master.m3u8").expect("a key");
    assert_eq!(
        master.read_to_string().await.expect("read"),
        "#EXTM3U\n#EXT-X-VERSION:9\n"
    );
    assert!(storage.file("lives/../x").is_none());
    storage.delete_prefix("lives/3/9").await.expect("delete");
    let gone = master.read_to_string().await.expect_err("deleted");
    assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);

    storage.delete_version(v).await.expect("delete");
    storage
        .delete_version(v)
        .await
        .expect("deleting twice is fine");
    storage.delete_upload(&stored.key).await.expect("delete");
    assert_eq!(s3.keys(), Vec::<String>::new());
    let gone = storage.upload_input(&stored.key).await.expect_err("gone");
    assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);
}

/// pufa refuses to start on a bucket it cannot reach, and says so.
#[tokio::test]
async fn a_wrong_bucket_credential_stops_the_start_with_its_reason() {
    let s3 = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pufa"))
        .args(["worker", "--kinds", "transcode", "--data"])
        .arg(dir.path().join("data"))
        .arg("--media")
        .arg(dir.path().join("media"))
        .env("PUFA_STORAGE", s3.storage_url())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", "wrong")
        .env_remove("PUFA_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("media bucket \"pufa-media\" is not reachable"),
        "{err}"
    );
}

/// Upload through one server, transcode on a worker, stream and redirect from the bucket.
#[tokio::test]
async fn recordings_in_a_bucket_are_transcoded_streamed_and_redirected() {
    use crate::helpers::{published_master, wait_until_done};
    use pufa::media::testsrc::{generate_clip, ClipSpec};

    let s3 = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    s3.use_for(dir.path());
    let serve_only = ["--transcode-workers", "0", "--delivery-workers", "0"];
    let a = TestApp::start_binary(dir.path(), &serve_only).await;
    let org = a.organizer().await;
    let session = a.demo_session_ids(&org).await[1];
    let clip = dir.path().join("short.mp4");
    generate_clip(
        &ClipSpec::new(640, 360, 25, 4.0).with_audio(2, 48_000),
        &clip,
    )
    .unwrap();
    let r = a.upload(&org, session, &clip).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let answer: Value = r.json().await.unwrap();
    let (job, lecture) = (
        answer["job_id"].as_i64().unwrap(),
        answer["lecture_id"].as_i64().unwrap(),
    );
    assert!(
        s3.keys().iter().any(|k| k.starts_with("uploads/")),
        "the upload is in the bucket: {:?}",
        s3.keys()
    );
    let _worker = crate::workers::start_worker(dir.path());
    let done = wait_until_done(&a, &org, job).await;
    assert_eq!(done["state"], "done");

    // the bucket holds the version (with its poster), the local media folder none of it
    let keys = s3.keys();
    let prefix = format!("lectures/{lecture}/v{job}/");
    assert!(keys.contains(&format!("{prefix}master.m3u8")), "{keys:?}");
    assert!(keys.contains(&format!("{prefix}poster.jpg")), "{keys:?}");
    assert!(
        !keys.iter().any(|k| k.starts_with("uploads/")),
        "the transcoded upload is deleted: {keys:?}"
    );
    let local = dir.path().join("media").join(format!("lectures/{lecture}"));
    let local_files = std::fs::read_dir(&local).map(|d| d.count()).unwrap_or(0);
    assert_eq!(local_files, 0, "nothing of the lecture stays on the disk");

    // streamed: the master, a media playlist, a segment whole and in part
    let master = published_master(&a, &org, lecture).await;
    assert!(master.contains("#EXT-X-STREAM-INF"), "{master}");
    let rung = master
        .lines()
        .find(|l| l.ends_with(".m3u8"))
        .expect("a media playlist")
        .to_string();
    let base = format!("/media/lectures/{lecture}/v{job}/");
    let playlist = org
        .get(a.url(&format!("{base}{rung}")))
        .send()
        .await
        .unwrap();
    assert_eq!(playlist.status(), StatusCode::OK);
    assert!(playlist.headers()["cache-control"]
        .to_str()
        .unwrap()
        .ends_with("max-age=10"));
    let playlist = playlist.text().await.unwrap();
    let rung_dir = rung.rsplit_once('/').map_or("", |(d, _)| d);
    let segment = playlist
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .expect("a segment");
    let segment_url = a.url(&format!("{base}{rung_dir}/{segment}"));
    let whole = org.get(&segment_url).send().await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-type"], "video/mp4");
    assert!(whole.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let etag = whole.headers()["etag"].clone();
    let whole = whole.bytes().await.unwrap();
    assert!(whole.len() > 1000);
    let part = org
        .get(&segment_url)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 100-199/{}", whole.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap(), whole.slice(100..200));
    let again = org
        .get(&segment_url)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let missing = org
        .get(a.url(&format!("{base}{rung_dir}/seg_99999.m4s")))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // presigned: a second server on the same database and bucket redirects segments (the
    // playlists it still sends itself), and the presigned URL gives the same bytes
    let b = TestApp::start_binary(
        dir.path(),
        &[
            "--transcode-workers",
            "0",
            "--delivery-workers",
            "0",
            "--media-delivery",
            "presigned",
            "--presign-secs",
            "120",
        ],
    )
    .await;
    // access is checked before any redirect: without a login, no presigned URL
    let r = b
        .anonymous()
        .get(b.url(&format!("{base}{rung_dir}/{segment}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("location").is_none());
    // the organizer's login (made on A) is valid on B; the client follows no redirect
    let r = org
        .get(b.url(&format!("{base}{rung_dir}/{segment}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(r.headers()["cache-control"], "private, max-age=60");
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&s3.endpoint()), "{location}");
    assert!(location.contains("X-Amz-Signature="), "{location}");
    let redirected = reqwest::get(&location).await.unwrap();
    assert_eq!(redirected.status(), StatusCode::OK);
    assert_eq!(redirected.bytes().await.unwrap(), whole);
    let r = org
        .get(b.url(&format!("{base}{rung}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "playlists are sent, not redirected"
    );
}
