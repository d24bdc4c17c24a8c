//! Where media lives. All reads and writes of uploads and HLS output go through [`Storage`],
//! so the planned object-storage backend (S3-compatible, behind a CDN) replaces one type.
//! Paths given to it are relative to the media root and checked, so a crafted path can never
//! leave the root.

use std::path::{Component, Path, PathBuf};

/// The local media root.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

/// True for a path segment we ever create: letters, digits, '.', '_' and '-', not starting
/// with a dot.
fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl Storage {
    pub fn new(root: impl Into<PathBuf>) -> Storage {
        Storage { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of a relative media path, or `None` when it is not a plain relative
    /// path of safe segments (no `..`, no absolute paths, no hidden files).
    pub fn resolve(&self, relative: &str) -> Option<PathBuf> {
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

    /// A fresh upload location: (relative path, absolute path of the partial file being
    /// written, absolute final path).
    pub fn new_upload(&self, extension: &str) -> std::io::Result<(String, PathBuf, PathBuf)> {
        let dir = self.root.join("uploads");
        std::fs::create_dir_all(&dir)?;
        let ext: String = extension
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(8)
            .collect::<String>()
            .to_ascii_lowercase();
        let ext = if ext.is_empty() { "bin".into() } else { ext };
        let name = format!("{}.{ext}", uuid::Uuid::new_v4().simple());
        let partial = dir.join(format!("{name}.part"));
        Ok((format!("uploads/{name}"), partial, dir.join(&name)))
    }

    /// Where a job writes a lecture's HLS version: (relative, absolute). The transcoder
    /// writes into a temporary sibling and renames it here only when complete.
    pub fn lecture_version(&self, lecture_id: i64, job_id: i64) -> (String, PathBuf) {
        let rel = format!("lectures/{lecture_id}/v{job_id}");
        let abs = self.root.join(&rel);
        (rel, abs)
    }

    /// Remove a directory tree given relative to the root (ignores a missing one).
    pub fn remove_dir(&self, relative: &str) -> std::io::Result<()> {
        match self.resolve(relative) {
            Some(path) => match std::fs::remove_dir_all(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
            None => Ok(()),
        }
    }

    /// Leftovers of interrupted transcodes (`*.partial-*` folders) of a lecture: removed at
    /// the start of a job so a crash never leaves half-made output behind for long. Published
    /// versions are never named like that, so they are never served half-made.
    pub fn remove_partials(&self, lecture_id: i64) -> std::io::Result<()> {
        let dir = self.root.join("lectures").join(lecture_id.to_string());
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().contains(".partial-") {
                std::fs::remove_dir_all(entry.path())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_refuses_escapes() {
        let s = Storage::new("/srv/media");
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
    }

    #[test]
    fn uploads_get_unique_safe_names() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = Storage::new(dir.path());
        let (rel, partial, final_path) = s.new_upload("MP4").expect("upload");
        assert!(rel.starts_with("uploads/") && rel.ends_with(".mp4"));
        assert!(partial.to_string_lossy().ends_with(".mp4.part"));
        assert_eq!(s.resolve(&rel), Some(final_path));
        let (rel2, _, _) = s.new_upload("../../x").expect("upload");
        assert!(rel2.ends_with(".x"));
    }
}
