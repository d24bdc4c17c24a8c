//! `pufa backup` and `pufa restore`: one tar archive with a consistent copy of the database and
//! the media tree, and its restoration into empty directories.
//!
//! Archive layout (plain tar, readable with `tar tvf`):
//! - `data/pufa.db` — a `VACUUM INTO` copy, consistent while the server runs;
//! - `media/…` — the published lecture versions (`lectures/{id}/v{job}/`) and the committed
//!   uploads (`uploads/`); never uploads being written (`*.part`), staging folders
//!   (`*.partial-*`), replaced versions awaiting deletion (`.*.old-*`) or live working folders
//!   (`live/`), which only the process that wrote them can use;
//! - `MANIFEST.json` — last: format, version, and the size and SHA-256 of every file, checked by
//!   `restore`.
//!
//! The database is copied first, then the media are read. Published media files are never
//! changed in place (a new version is a new folder, renamed into place), so the copy is
//! consistent as long as every version the database copy refers to is still there when it is
//! read; a version replaced in between (a re-transcode finishing during the backup) makes the
//! backup fail and say to run it again, rather than write an archive that cannot play.

use crate::db::Db;
use anyhow::{bail, Context};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

/// The archive's manifest entry name.
pub const MANIFEST: &str = "MANIFEST.json";
/// `format` in the manifest.
const FORMAT: &str = "pufa-backup";
/// The manifest version this build writes and reads.
const FORMAT_VERSION: u32 = 1;
/// Prefix of the database entry and folder of the media entries in the archive.
const DATA_PREFIX: &str = "data/";
const MEDIA_PREFIX: &str = "media/";
/// The database file name in the data directory.
const DB_FILE: &str = "pufa.db";
/// A manifest larger than this is not a pufa manifest (it lists file names and hashes).
const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

/// The manifest: what the archive holds, checked entry by entry on restore.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// When the backup was taken (RFC 3339, UTC).
    pub created_at: String,
    /// The pufa version that wrote it.
    pub pufa_version: String,
    /// Every file of the archive but the manifest, in archive order.
    pub files: Vec<ManifestFile>,
}

/// One archived file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManifestFile {
    /// Path in the archive (`data/pufa.db`, `media/lectures/3/v17/master.m3u8`).
    pub path: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
}

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    /// Files in the archive (the database included, the manifest not).
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Published lecture versions included.
    pub versions: usize,
    /// Things an operator should know (e.g. a live in progress is not in the archive).
    pub warnings: Vec<String>,
}

/// True when a media file at `relative` (to the media root, `/`-separated) belongs in a
/// backup: not a live working folder, an upload being written, a staging folder, a replaced
/// version awaiting deletion, or any hidden file.
pub fn media_path_is_kept(relative: &str) -> bool {
    let mut parts = relative.split('/');
    if parts.clone().next() == Some("live") {
        return false;
    }
    parts.all(|p| {
        !p.is_empty()
            && !p.starts_with('.')
            && !p.ends_with(".part")
            && !p.contains(".partial-")
            && !p.contains(".old-")
    })
}

/// The relative path of an archive entry when it is a plain relative path of UTF-8 names (no
/// `..`, no root, no `.`); `None` otherwise, so an entry can never be written outside the
/// restore directories.
pub fn safe_entry_path(path: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?),
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Compare what was restored with the manifest; `Err` names the first difference.
pub fn check_against_manifest(
    manifest: &Manifest,
    restored: &BTreeMap<String, (u64, String)>,
) -> Result<(), String> {
    if manifest.format != FORMAT {
        return Err(format!("not a pufa backup (format {:?})", manifest.format));
    }
    if manifest.version != FORMAT_VERSION {
        return Err(format!(
            "backup format version {} is not supported by this pufa (reads {FORMAT_VERSION})",
            manifest.version
        ));
    }
    let mut listed = BTreeMap::new();
    for f in &manifest.files {
        if listed.insert(f.path.as_str(), f).is_some() {
            return Err(format!("the manifest lists {} twice", f.path));
        }
    }
    for (path, f) in &listed {
        match restored.get(*path) {
            None => return Err(format!("{path} is listed in the manifest but missing")),
            Some((size, _)) if *size != f.size => {
                return Err(format!(
                    "{path} has {size} bytes, the manifest says {}",
                    f.size
                ))
            }
            Some((_, sha)) if *sha != f.sha256 => {
                return Err(format!("{path} does not match its checksum"))
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = restored.keys().find(|p| !listed.contains_key(p.as_str())) {
        return Err(format!("{extra} is in the archive but not in its manifest"));
    }
    if !listed.contains_key(format!("{DATA_PREFIX}{DB_FILE}").as_str()) {
        return Err(format!("the archive holds no {DATA_PREFIX}{DB_FILE}"));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// Write a backup of the database in `data_dir` and the media under `media_dir` to `file`
/// (which must not exist). Safe while the server runs. The archive appears under its name only
/// when complete.
pub async fn backup(
    data_dir: &Path,
    media_dir: &Path,
    file: &Path,
) -> anyhow::Result<BackupSummary> {
    if fs::symlink_metadata(file).is_ok() {
        bail!("{} already exists; choose a new file name", file.display());
    }
    let db_path = data_dir.join(DB_FILE);
    if !db_path.is_file() {
        bail!(
            "no database at {} (give the server's --data directory)",
            db_path.display()
        );
    }
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // the database copy is written next to the archive, not into the server's data directory
    let work = tempfile::Builder::new()
        .prefix(".pufa-backup-")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a work folder in {}", parent.display()))?;
    let snapshot = work.path().join(DB_FILE);
    let db = Db::open(data_dir).await?;
    db.backup_to(&snapshot)
        .await
        .context("copying the database (VACUUM INTO)")?;
    db.pool.close().await;
    let refs = crate::db::backup::media_references(&snapshot).await?;

    let (media_dir, file) = (media_dir.to_path_buf(), file.to_path_buf());
    let claims_dir = crate::app::claims::claims_dir(data_dir);
    tokio::task::spawn_blocking(move || {
        let summary = write_archive(&snapshot, &claims_dir, &media_dir, &file, &parent, &refs)?;
        drop(work);
        Ok(summary)
    })
    .await
    .context("the backup thread ended abnormally")?
}

fn write_archive(
    snapshot: &Path,
    claims_dir: &Path,
    media_dir: &Path,
    file: &Path,
    parent: &Path,
    refs: &crate::db::backup::MediaReferences,
) -> anyhow::Result<BackupSummary> {
    let out = tempfile::Builder::new()
        .prefix(".pufa-backup-")
        .suffix(".tar.partial")
        .tempfile_in(parent)
        .with_context(|| format!("creating the archive in {}", parent.display()))?;
    let mut tar = tar::Builder::new(BufWriter::new(out.reopen()?));
    let mut files = Vec::new();

    let db_file = File::open(snapshot)?;
    append(
        &mut tar,
        &format!("{DATA_PREFIX}{DB_FILE}"),
        db_file,
        &mut files,
    )?;

    // the business licences of credit-code claims live in the data directory, not with the
    // public media: they are data the claims in the database refer to
    let mut licences = Vec::new();
    match fs::read_dir(claims_dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.starts_with('.') || !entry.file_type()?.is_file() {
                    continue;
                }
                licences.push(name.to_string());
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).context(format!("reading {}", claims_dir.display())),
    }
    licences.sort();
    for name in &licences {
        let f = File::open(claims_dir.join(name))
            .with_context(|| format!("reading {}", claims_dir.join(name).display()))?;
        append(
            &mut tar,
            &format!("{DATA_PREFIX}{}/{name}", crate::app::claims::CLAIMS_DIR),
            f,
            &mut files,
        )?;
    }

    let mut media = Vec::new();
    match fs::symlink_metadata(media_dir) {
        Ok(m) if m.is_dir() => collect_media(media_dir, "", &mut media)?,
        Ok(_) => bail!("{} is not a directory", media_dir.display()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).context(format!("reading {}", media_dir.display())),
    }
    media.sort();
    for relative in &media {
        let path = media_dir.join(relative);
        let f = match File::open(&path) {
            Ok(f) => f,
            // removed since it was listed: a version replaced meanwhile (checked below)
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).context(format!("reading {}", path.display())),
        };
        append(
            &mut tar,
            &format!("{MEDIA_PREFIX}{relative}"),
            f,
            &mut files,
        )?;
    }

    let archived = |prefix: &str| {
        files
            .iter()
            .any(|f: &ManifestFile| f.path.starts_with(prefix))
    };
    for version in &refs.versions {
        if !archived(&format!("{MEDIA_PREFIX}{version}/")) {
            bail!(
                "the published lecture version {version} the database refers to is not in {} \
                 (it may have been replaced while the backup ran; run the backup again)",
                media_dir.display()
            );
        }
    }
    let mut warnings = Vec::new();
    for input in &refs.pending_inputs {
        if input.starts_with("live/") {
            warnings.push(format!(
                "a live lecture was being archived ({input}): its working folder is not backed \
                 up, so its replay cannot be made from this backup"
            ));
        } else if !archived(&format!("{MEDIA_PREFIX}{input}")) {
            warnings.push(format!(
                "the upload {input} of an unfinished transcode is not in the media directory; \
                 that job will fail after a restore"
            ));
        }
    }

    let manifest = Manifest {
        format: FORMAT.into(),
        version: FORMAT_VERSION,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        pufa_version: env!("CARGO_PKG_VERSION").into(),
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest)?;
    let mut header = file_header(json.len() as u64);
    tar.append_data(&mut header, MANIFEST, json.as_slice())?;
    let writer = tar.into_inner()?;
    let inner = writer.into_inner().map_err(|e| e.into_error())?;
    inner.sync_all()?;
    drop(inner);
    out.persist_noclobber(file)
        .map_err(|e| e.error)
        .with_context(|| format!("moving the archive to {}", file.display()))?;
    // make the new name durable too
    if let Ok(dir) = File::open(parent) {
        dir.sync_all().ok();
    }
    Ok(BackupSummary {
        files: manifest.files.len(),
        bytes: manifest.files.iter().map(|f| f.size).sum(),
        versions: refs.versions.len(),
        warnings,
    })
}

fn file_header(size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    header
}

/// Append the open file `f` as `name`; its size is taken when opened and must still be its
/// size when read (published media are never written in place).
fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    f: File,
    files: &mut Vec<ManifestFile>,
) -> anyhow::Result<()> {
    let size = f.metadata()?.len();
    let mut reader = Hashing {
        inner: f.take(size),
        hasher: Sha256::new(),
        read: 0,
    };
    let mut header = file_header(size);
    tar.append_data(&mut header, name, &mut reader)
        .with_context(|| format!("archiving {name}"))?;
    if reader.read != size {
        bail!("{name} changed size while it was archived");
    }
    files.push(ManifestFile {
        path: name.to_string(),
        size,
        sha256: hex(&reader.hasher.finalize()),
    });
    Ok(())
}

/// List the regular files under `root/relative` that belong in a backup, as `/`-separated
/// paths relative to `root`. Symbolic links are not followed (the media tree has none).
fn collect_media(root: &Path, relative: &str, out: &mut Vec<String>) -> anyhow::Result<()> {
    let dir = root.join(relative);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        // a folder renamed away since its parent was listed
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).context(format!("reading {}", dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let rel = if relative.is_empty() {
            name
        } else {
            format!("{relative}/{name}")
        };
        if !media_path_is_kept(&rel) {
            continue;
        }
        let kind = match entry.file_type() {
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        if kind.is_dir() {
            collect_media(root, &rel, out)?;
        } else if kind.is_file() {
            out.push(rel);
        }
    }
    Ok(())
}

/// Refuse a restore target that holds anything; a missing one is created.
fn check_empty(dir: &Path, what: &str) -> anyhow::Result<()> {
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "the {what} directory {} is not empty: restore only into a new or empty \
                     directory (move the current one aside first)",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).context(format!("reading the {what} directory {}", dir.display())),
    }
}

/// Remove everything a failed restore wrote into the (formerly empty) directories.
fn empty_dir(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let removed = match entry.file_type() {
                Ok(t) if t.is_dir() => fs::remove_dir_all(&path),
                _ => fs::remove_file(&path),
            };
            if let Err(e) = removed {
                tracing::warn!(path = %path.display(), error = %e, "cleaning up after a failed restore");
            }
        }
    }
}

/// What a restore wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreSummary {
    pub files: usize,
    pub bytes: u64,
    /// When the backup was taken, from its manifest.
    pub created_at: String,
}

/// Restore the archive `file` into `data_dir` and `media_dir`, which must be empty or missing.
/// Every file is checked against the manifest; on any error the directories are emptied again.
pub fn restore(file: &Path, data_dir: &Path, media_dir: &Path) -> anyhow::Result<RestoreSummary> {
    check_empty(data_dir, "data")?;
    check_empty(media_dir, "media")?;
    let mut archive = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut magic = [0u8; 4];
    let n = archive.read(&mut magic)?;
    if magic[..n].starts_with(&[0x1f, 0x8b]) || magic[..n].starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        bail!(
            "{} is compressed (gzip or zstd): decompress it first, e.g. `zstd -d` or `gunzip`",
            file.display()
        );
    }
    io::Seek::rewind(&mut archive)?;
    fs::create_dir_all(data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    fs::create_dir_all(media_dir)
        .with_context(|| format!("creating the media directory {}", media_dir.display()))?;
    match unpack(archive, data_dir, media_dir) {
        Ok(summary) => Ok(summary),
        Err(e) => {
            empty_dir(data_dir);
            empty_dir(media_dir);
            Err(e.context(format!(
                "{} could not be restored; nothing was left in the target directories",
                file.display()
            )))
        }
    }
}

fn unpack(archive: File, data_dir: &Path, media_dir: &Path) -> anyhow::Result<RestoreSummary> {
    let mut tar = tar::Archive::new(io::BufReader::new(archive));
    let mut restored: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
    for entry in tar.entries().context("reading the archive")? {
        let mut entry = entry.context("reading the archive")?;
        let raw = entry.path()?.into_owned();
        let path = safe_entry_path(&raw)
            .with_context(|| format!("refusing the archive entry {}", raw.display()))?;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            bail!("the archive entry {path} is not a regular file");
        }
        if path == MANIFEST {
            if manifest.is_some() {
                bail!("the archive holds two manifests");
            }
            let mut json = Vec::new();
            (&mut entry)
                .take(MAX_MANIFEST_BYTES)
                .read_to_end(&mut json)?;
            manifest = Some(serde_json::from_slice(&json).context("reading the manifest")?);
            continue;
        }
        let dest = if let Some(rest) = path.strip_prefix(DATA_PREFIX) {
            data_dir.join(rest)
        } else if let Some(rest) = path.strip_prefix(MEDIA_PREFIX) {
            media_dir.join(rest)
        } else {
            bail!("the archive entry {path} is neither under data/ nor media/");
        };
        if restored.contains_key(&path) {
            bail!("the archive holds {path} twice");
        }
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut out = BufWriter::new(
            File::create(&dest).with_context(|| format!("writing {}", dest.display()))?,
        );
        let mut reader = Hashing {
            inner: &mut entry,
            hasher: Sha256::new(),
            read: 0,
        };
        io::copy(&mut reader, &mut out).with_context(|| format!("restoring {path}"))?;
        let (read, sha) = (reader.read, hex(&reader.hasher.finalize()));
        let f = out.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        restored.insert(path, (read, sha));
    }
    let manifest = manifest.context("the archive has no MANIFEST.json: not a pufa backup")?;
    check_against_manifest(&manifest, &restored).map_err(anyhow::Error::msg)?;
    Ok(RestoreSummary {
        files: restored.len(),
        bytes: restored.values().map(|(s, _)| s).sum(),
        created_at: manifest.created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_files_are_left_out_of_backups() {
        for kept in [
            "uploads/3f2a.mp4",
            "lectures/3/v17/master.m3u8",
            "lectures/3/v17/720p/seg_00001.m4s",
            "lectures/3/v17/poster.jpg",
        ] {
            assert!(media_path_is_kept(kept), "{kept}");
        }
        for left in [
            "uploads/3f2a.mp4.part",
            "live/4/9/720p/seg_00001.m4s",
            "live",
            "lectures/3/v18.partial-AbC123/master.m3u8",
            "lectures/3/.v17.old-xyz/previous/master.m3u8",
            ".hidden",
        ] {
            assert!(!media_path_is_kept(left), "{left}");
        }
    }

    #[test]
    fn entries_outside_the_targets_are_refused() {
        assert_eq!(
            safe_entry_path(Path::new("media/lectures/1/v2/master.m3u8")).as_deref(),
            Some("media/lectures/1/v2/master.m3u8")
        );
        for bad in ["../etc/passwd", "/etc/passwd", "media/../../x", "./", ""] {
            assert_eq!(safe_entry_path(Path::new(bad)), None, "{bad}");
        }
    }

    fn manifest(files: &[(&str, u64, &str)]) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            created_at: "2026-12-01T00:00:00Z".into(),
            pufa_version: "0".into(),
            files: files
                .iter()
                .map(|(p, s, h)| ManifestFile {
                    path: (*p).into(),
                    size: *s,
                    sha256: (*h).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn restored_files_must_match_the_manifest_exactly() {
        let m = manifest(&[("data/pufa.db", 3, "aa"), ("media/uploads/x.mp4", 2, "bb")]);
        let mut got: BTreeMap<String, (u64, String)> = BTreeMap::new();
        got.insert("data/pufa.db".into(), (3, "aa".into()));
        got.insert("media/uploads/x.mp4".into(), (2, "bb".into()));
        assert_eq!(check_against_manifest(&m, &got), Ok(()));

        let mut wrong = got.clone();
        wrong.insert("media/uploads/x.mp4".into(), (2, "cc".into()));
        assert!(check_against_manifest(&m, &wrong)
            .unwrap_err()
            .contains("checksum"));
        let mut missing = got.clone();
        missing.remove("media/uploads/x.mp4");
        assert!(check_against_manifest(&m, &missing)
            .unwrap_err()
            .contains("missing"));
        let mut extra = got.clone();
        extra.insert("media/uploads/y.mp4".into(), (1, "dd".into()));
        assert!(check_against_manifest(&m, &extra)
            .unwrap_err()
            .contains("not in its manifest"));
        let no_db = manifest(&[("media/uploads/x.mp4", 2, "bb")]);
        let mut only_media = got.clone();
        only_media.remove("data/pufa.db");
        assert!(check_against_manifest(&no_db, &only_media)
            .unwrap_err()
            .contains("pufa.db"));
    }

    /// A backup of a small tree restores byte for byte; a corrupted archive and non-empty
    /// targets are refused, and a failed restore leaves the targets empty.
    #[tokio::test]
    async fn backup_round_trips_and_corruption_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let (data, media) = (dir.path().join("data"), dir.path().join("media"));
        Db::open(&data).await.expect("db").pool.close().await;
        let files = [
            ("uploads/a.mp4", "upload bytes"),
            ("lectures/1/v2/master.m3u8", "#EXTM3U\n"),
            ("lectures/1/v2/360p/seg_00001.m4s", "segment"),
        ];
        for (p, content) in files {
            let path = media.join(p);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(path, content).expect("write");
        }
        for skipped in [
            "uploads/b.mp4.part",
            "live/1/1/x.m4s",
            "lectures/1/v3.partial-x/a",
        ] {
            let path = media.join(skipped);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(path, "work").expect("write");
        }
        let archive = dir.path().join("b.tar");
        let summary = backup(&data, &media, &archive).await.expect("backup");
        assert_eq!(summary.files, 4, "{summary:?}");
        // it holds rosters and password hashes: readable by its owner only
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&archive)
            .expect("archive")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        let again = backup(&data, &media, &archive).await.unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");

        let (data2, media2) = (dir.path().join("data2"), dir.path().join("media2"));
        restore(&archive, &data2, &media2).expect("restore");
        for (p, content) in files {
            assert_eq!(fs::read_to_string(media2.join(p)).expect(p), content);
        }
        assert!(!media2.join("uploads/b.mp4.part").exists());
        assert!(!media2.join("live").exists());
        assert!(data2.join("pufa.db").is_file());

        let refused = restore(&archive, &data2, &dir.path().join("media3")).unwrap_err();
        assert!(refused.to_string().contains("not empty"), "{refused}");

        // flip one byte of the upload's content inside the archive
        let mut bytes = fs::read(&archive).expect("read");
        let at = bytes
            .windows(12)
            .position(|w| w == b"upload bytes")
            .expect("content in the tar");
        bytes[at] = b'U';
        let corrupt = dir.path().join("corrupt.tar");
        fs::write(&corrupt, bytes).expect("write");
        let (data4, media4) = (dir.path().join("data4"), dir.path().join("media4"));
        let e = restore(&corrupt, &data4, &media4).unwrap_err();
        assert!(format!("{e:#}").contains("checksum"), "{e:#}");
        assert_eq!(fs::read_dir(&data4).expect("data4").count(), 0);
        assert_eq!(fs::read_dir(&media4).expect("media4").count(), 0);

        // a compressed archive gets a hint, not a tar parse error
        let gz = dir.path().join("b.tar.gz");
        fs::write(&gz, [0x1f, 0x8b, 8, 0]).expect("write");
        let e = restore(&gz, &dir.path().join("data5"), &dir.path().join("media5")).unwrap_err();
        assert!(e.to_string().contains("decompress it first"), "{e}");
    }
}
