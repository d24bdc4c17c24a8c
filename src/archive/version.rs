//! A published version of a lecture's recording: the HLS folder one transcode job produced.
//!
//! Every job writes its own version (`lectures/{lecture}/v{job}`), so a re-upload never
//! overwrites files a player may still be fetching, and segment URLs can be cached forever.
//! The value is built once, where the database row is read, and gives the storage path and
//! the public URLs; nothing re-parses a path string.

use std::fmt;

/// The version of lecture `lecture_id` made by job `job_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LectureVersion {
    pub lecture_id: i64,
    pub job_id: i64,
}

impl LectureVersion {
    pub fn new(lecture_id: i64, job_id: i64) -> LectureVersion {
        LectureVersion { lecture_id, job_id }
    }

    /// The version's folder name, the `{version}` part of its URLs: `v{job}`.
    pub fn dir_name(&self) -> String {
        format!("v{}", self.job_id)
    }

    /// True when `segment` (from a URL) names this version.
    pub fn is_named(&self, segment: &str) -> bool {
        segment
            .strip_prefix('v')
            .and_then(|job| job.parse::<i64>().ok())
            .is_some_and(|job| job == self.job_id && segment == self.dir_name())
    }

    /// The folder of all versions of the lecture, relative to the media root.
    pub fn lecture_dir(lecture_id: i64) -> String {
        format!("lectures/{lecture_id}")
    }

    /// The version's folder relative to the media root, as stored in `lectures.hls_path`.
    pub fn path(&self) -> String {
        format!("lectures/{}/v{}", self.lecture_id, self.job_id)
    }

    /// Read back a stored [`path`](Self::path); `None` for anything else.
    pub fn parse(path: &str) -> Option<LectureVersion> {
        let rest = path.strip_prefix("lectures/")?;
        let (lecture, version) = rest.split_once('/')?;
        let job = version.strip_prefix('v')?;
        let v = LectureVersion::new(lecture.parse().ok()?, job.parse().ok()?);
        // only the canonical spelling: no signs, no leading zeros
        (v.path() == path).then_some(v)
    }

    /// The URL of `file` of this version, e.g. `master.m3u8` or `720p/seg_00001.m4s`.
    pub fn url(&self, file: &str) -> String {
        format!(
            "/media/lectures/{}/v{}/{file}",
            self.lecture_id, self.job_id
        )
    }

    /// The master playlist's URL.
    pub fn master_url(&self) -> String {
        self.url("master.m3u8")
    }

    /// The poster image's URL (video lectures only).
    pub fn poster_url(&self) -> String {
        self.url("poster.jpg")
    }
}

impl fmt::Display for LectureVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_and_urls_round_trip() {
        let v = LectureVersion::new(3, 17);
        assert_eq!(v.path(), "lectures/3/v17");
        assert_eq!(LectureVersion::parse("lectures/3/v17"), Some(v));
        assert_eq!(v.master_url(), "/media/lectures/3/v17/master.m3u8");
        assert_eq!(v.poster_url(), "/media/lectures/3/v17/poster.jpg");
        assert!(v.is_named("v17"));
        for other in ["v18", "17", "v017", "v+17", "", "v"] {
            assert!(!v.is_named(other), "{other}");
        }
        for bad in [
            "lectures/3/17",
            "lectures/x/v1",
            "lectures/3/v17/x",
            "lecture/3/v17",
            "lectures/03/v17",
            "lectures/3/v+17",
            "",
        ] {
            assert_eq!(LectureVersion::parse(bad), None, "{bad}");
        }
    }
}
