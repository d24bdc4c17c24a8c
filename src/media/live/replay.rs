//! The replay of a live: the live's segments (every period, every rung) made into the same
//! kind of version a transcoded recording is, ready to publish.
//!
//! SKELETON: the API below is fixed; the bodies are being written.

use crate::media::live::packager::{InputFormat, PackagerOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// One period of the live (one publisher connection): the packager's folder and the format of
/// its journal.
#[derive(Clone, Debug)]
pub struct PeriodSource {
    pub dir: PathBuf,
    pub format: InputFormat,
}

/// A video rendition of the replay.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayRendition {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bandwidth: u64,
}

/// What [`build_replay`] made.
#[derive(Clone, Debug)]
pub struct Replay {
    pub duration_s: f64,
    pub renditions: Vec<ReplayRendition>,
    pub audio_only: bool,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("直播没有可回放的内容")]
    Empty,
    #[error("回放生成已取消")]
    Cancelled,
    #[error("回放生成失败：{0}")]
    Failed(String),
    #[error("写入回放文件失败：{0}")]
    Io(#[from] std::io::Error),
}

/// Build the replay of `periods` (in order) into `staging`.
pub fn build_replay(
    _periods: &[PeriodSource],
    _staging: &Path,
    _options: &PackagerOptions,
    _cancel: &AtomicBool,
) -> Result<Replay, ReplayError> {
    todo!()
}
