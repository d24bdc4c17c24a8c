//! Atomic publication of an output folder, and the sweep of what an interrupted run left.
//!
//! An output `NAME` is written into a sibling `NAME.partial-XXXXXX` and renamed to `NAME` only
//! when complete; an existing `NAME` is first moved into a hidden `.NAME.old-XXXXXX` that is
//! deleted afterwards. So a reader sees the old output or the new one, never half of either.
//! A process killed mid-run leaves those folders behind: [`remove_stale_partials`] sweeps the
//! leftovers of one output, [`remove_all_stale_partials`] those of every output in a folder.

use super::types::TranscodeError;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// Marks a folder being written: `NAME.partial-XXXXXX`.
const PARTIAL_MARK: &str = ".partial-";
/// Marks a replaced output waiting for deletion: `.NAME.old-XXXXXX`.
const OLD_MARK: &str = ".old-";

/// Absolute parent directory (must exist) and final path component of OUTDIR.
pub(super) fn split_out_dir(
    out_dir: &Path,
    create_parent: bool,
) -> Result<(PathBuf, String), TranscodeError> {
    let name = out_dir
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .ok_or_else(|| {
            TranscodeError::InvalidOptions(format!(
                "output folder needs a UTF-8 name: {}",
                out_dir.display()
            ))
        })?
        .to_string();
    let parent = match out_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if create_parent {
        fs::create_dir_all(&parent)?;
    }
    let parent = fs::canonicalize(&parent).map_err(|e| {
        TranscodeError::InvalidOptions(format!("output parent folder {}: {e}", parent.display()))
    })?;
    Ok((parent, name))
}

/// A fresh, empty staging folder for the output `name` in `parent` (an existing folder on the
/// same file system, so [`publish`] can rename). Dropping it removes it with its contents.
pub fn staging_dir(parent: &Path, name: &str) -> io::Result<TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("{name}{PARTIAL_MARK}"))
        .tempdir_in(parent)
}

/// Move the finished `staging` folder to `target`, replacing an existing `target`. On failure
/// the staging folder is removed and `target` is left as it was.
pub fn publish(staging: TempDir, target: &Path) -> io::Result<()> {
    install(staging.path(), target)?;
    // renamed to `target`: disarm the guard, its path no longer exists
    let _moved: PathBuf = staging.keep();
    Ok(())
}

/// Move the finished folder into place, replacing an existing `target`.
fn install(staged: &Path, target: &Path) -> io::Result<()> {
    match fs::symlink_metadata(target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::rename(staged, target),
        Err(e) => Err(e),
        Ok(_) => {
            let parent = target.parent().unwrap_or(Path::new("."));
            let name = target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // The old output is moved into a fresh hidden folder that is deleted afterwards.
            let graveyard = tempfile::Builder::new()
                .prefix(&format!(".{name}{OLD_MARK}"))
                .tempdir_in(parent)?;
            let old = graveyard.path().join("previous");
            fs::rename(target, &old)?;
            if let Err(e) = fs::rename(staged, target) {
                if let Err(back) = fs::rename(&old, target) {
                    tracing::error!(error = %back, target = %target.display(), "restoring the previous output failed");
                }
                return Err(e);
            }
            drop(graveyard);
            Ok(())
        }
    }
}

/// Remove `OUTDIR.partial-*` and `.OUTDIR.old-*` leftovers of a process that died mid-run.
/// Call only when no transcode into `out_dir` is running.
pub fn remove_stale_partials(out_dir: &Path) -> io::Result<usize> {
    let Ok((parent, name)) = split_out_dir(out_dir, false) else {
        return Ok(0);
    };
    let partial = format!("{name}{PARTIAL_MARK}");
    let old = format!(".{name}{OLD_MARK}");
    sweep(&parent, |n| n.starts_with(&partial) || n.starts_with(&old))
}

/// Remove the leftovers of every output in `parent` (`*.partial-*` and `.*.old-*` folders); a
/// missing `parent` has none. Call only when nothing is being written into `parent`.
pub fn remove_all_stale_partials(parent: &Path) -> io::Result<usize> {
    match fs::metadata(parent) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    sweep(parent, |n| {
        n.contains(PARTIAL_MARK) || (n.starts_with('.') && n.contains(OLD_MARK))
    })
}

/// Remove the folders in `parent` whose name matches `stale`; returns how many.
fn sweep(parent: &Path, stale: impl Fn(&str) -> bool) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(parent)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(n) = file_name.to_str() else {
            continue;
        };
        if stale(n) && entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_replaces_and_sweeps_leftovers() {
        let tmp = tempfile::tempdir().expect("tmp");
        let target = tmp.path().join("v7");
        fs::create_dir_all(&target).expect("old");
        fs::write(target.join("old.txt"), "old").expect("old file");
        let staging = staging_dir(tmp.path(), "v7").expect("staging");
        fs::write(staging.path().join("new.txt"), "new").expect("new file");
        publish(staging, &target).expect("publish");
        assert!(target.join("new.txt").is_file() && !target.join("old.txt").exists());

        fs::create_dir_all(tmp.path().join("v7.partial-Ab12Cd/720p")).expect("partial");
        fs::create_dir_all(tmp.path().join("v8.partial-Ef34Gh")).expect("partial");
        fs::create_dir_all(tmp.path().join(".v7.old-Xy34Zw")).expect("old");
        assert_eq!(remove_all_stale_partials(tmp.path()).expect("sweep"), 3);
        let left: Vec<_> = fs::read_dir(tmp.path())
            .expect("read")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("v7")]);
        assert_eq!(
            remove_all_stale_partials(&tmp.path().join("missing")).expect("missing"),
            0
        );
    }
}
