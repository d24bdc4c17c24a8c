//! What a database snapshot (a backup's copy) says about the media it needs.

use anyhow::Context;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::path::Path;

/// Media paths a database refers to, relative to the media root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaReferences {
    /// Published lecture versions (`lectures.hls_path`, e.g. `lectures/3/v17`).
    pub versions: Vec<String>,
    /// Uploads that queued or running jobs still read (`jobs.input_path`).
    pub pending_inputs: Vec<String>,
}

/// Read the media references of the database file `db_file` (a snapshot, opened read-only so
/// the copy about to be archived is left byte for byte as it is).
pub async fn media_references(db_file: &Path) -> anyhow::Result<MediaReferences> {
    let mut conn = SqliteConnectOptions::new()
        .filename(db_file)
        .read_only(true)
        .connect()
        .await
        .with_context(|| format!("opening the database copy {}", db_file.display()))?;
    let versions: Vec<String> = sqlx::query_scalar(
        "SELECT hls_path FROM lectures WHERE hls_path IS NOT NULL ORDER BY hls_path",
    )
    .fetch_all(&mut conn)
    .await?;
    let pending_inputs: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT input_path FROM jobs WHERE state IN ('queued', 'running') \
         ORDER BY input_path",
    )
    .fetch_all(&mut conn)
    .await?;
    conn.close().await?;
    Ok(MediaReferences {
        versions,
        pending_inputs,
    })
}
