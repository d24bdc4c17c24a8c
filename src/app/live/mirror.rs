//! The live mirror (issue 18, several replicas): the replica ingesting a live copies its
//! playlists and segments into the media storage as they appear, under
//! `lives/{session}/{live}/`, so every other replica serves the live from there
//! ([`super::view::live_files`]). The mirror is plain HLS: the LL-HLS parts, preload hints and
//! blocking reloads stay with the ingesting replica's memory; a viewer whose requests reach
//! another replica gets complete segments (a few seconds more latency).
//!
//! Every file is written whole (a local rename, or one object PUT): a media playlist only after
//! the segments it names, the master playlist only after the media playlists.

use crate::media::live::hub::{HubFile, LiveHub};
use crate::media::storage::SharedStorage;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// How often the mirror looks for new segments.
const MIRROR_EVERY: Duration = Duration::from_millis(500);
/// The master playlist's name.
pub const MASTER: &str = "master.m3u8";
/// A media playlist's name, in its rendition's folder.
pub const INDEX: &str = "index.m3u8";
/// The replay timeline ([`crate::media::live::hub::Timeline`] as JSON): other replicas map
/// their viewers' watch reports with it.
pub const TIMELINE: &str = "timeline.json";

/// The folder of live `live_id` of `session_id` in the storage.
pub fn prefix(session_id: i64, live_id: i64) -> String {
    format!("lives/{session_id}/{live_id}")
}

/// The key of `file` (`master.m3u8`, `{rendition}/{name}`) of a live.
pub fn key(session_id: i64, live_id: i64, file: &str) -> String {
    format!("{}/{file}", prefix(session_id, live_id))
}

/// The mirror's folder of a live from its working folder's key (`live/{session}/{live}`, what
/// a replay job's input is).
pub fn prefix_of_work_dir(work_dir: &str) -> Option<String> {
    work_dir
        .strip_prefix("live/")
        .map(|rest| format!("lives/{rest}"))
}

/// The renditions a master playlist names (`{rendition}/index.m3u8`, variants and media).
pub fn renditions(master: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in master.lines() {
        let uri = if line.starts_with('#') {
            line.split_once("URI=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(uri, _)| uri)
        } else {
            Some(line.trim())
        };
        if let Some((rendition, _)) = uri.and_then(|u| u.split_once('/')) {
            if !rendition.is_empty() && !out.iter().any(|r| r == rendition) {
                out.push(rendition.to_string());
            }
        }
    }
    out
}

/// A plain HLS playlist from an LL-HLS one: without parts, preload hints, rendition reports
/// and the blocking-reload control, ending with the last complete segment (and the end tag if
/// the live is over).
pub fn without_parts(playlist: &str) -> String {
    const LL_TAGS: [&str; 5] = [
        "#EXT-X-PART:",
        "#EXT-X-PART-INF",
        "#EXT-X-PRELOAD-HINT",
        "#EXT-X-SERVER-CONTROL",
        "#EXT-X-RENDITION-REPORT",
    ];
    let kept: Vec<&str> = playlist
        .lines()
        .filter(|l| !LL_TAGS.iter().any(|t| l.starts_with(t)))
        .collect();
    // tags after the last segment belong to the open one (a period change): not yet
    let last_uri = kept
        .iter()
        .rposition(|l| !l.is_empty() && !l.starts_with('#'));
    let header_end = kept
        .iter()
        .position(|l| l.starts_with("#EXT-X-INDEPENDENT-SEGMENTS"))
        .map_or(0, |i| i + 1);
    let end = last_uri.map_or(header_end, |i| i + 1);
    let mut out = kept[..end].join("\n");
    out.push('\n');
    if playlist.contains("#EXT-X-ENDLIST") {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// The files a (plain) media playlist names: its segments and init segments.
fn named_files(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .filter_map(|l| {
            if let Some(rest) = l.strip_prefix("#EXT-X-MAP:URI=\"") {
                rest.split_once('"').map(|(u, _)| u.to_string())
            } else if !l.is_empty() && !l.starts_with('#') {
                Some(l.trim().to_string())
            } else {
                None
            }
        })
        .collect()
}

/// What a mirror has written so far.
#[derive(Default)]
struct Mirror {
    copied: HashSet<String>,
    playlists: HashMap<String, String>,
    master: Option<String>,
    timeline: Option<crate::media::live::hub::Timeline>,
}

impl Mirror {
    async fn sync(
        &mut self,
        hub: &LiveHub,
        storage: &SharedStorage,
        session_id: i64,
        live_id: i64,
    ) -> std::io::Result<()> {
        let Some(master) = hub.master_playlist() else {
            return Ok(());
        };
        for rendition in renditions(&master) {
            let Ok(text) = hub.media_playlist(&rendition, None, None).await else {
                continue;
            };
            let plain = without_parts(&text);
            for name in named_files(&plain) {
                let file = format!("{rendition}/{name}");
                if self.copied.contains(&file) {
                    continue;
                }
                // a segment that slid out of the hub's window before it was copied stays out
                if let Some(HubFile::Disk(path)) = hub.file(&rendition, &name) {
                    let bytes = tokio::fs::read(&path).await?;
                    storage
                        .put_file(&key(session_id, live_id, &file), bytes)
                        .await?;
                    self.copied.insert(file);
                }
            }
            if self.playlists.get(&rendition) != Some(&plain) {
                let file = format!("{rendition}/{INDEX}");
                storage
                    .put_file(&key(session_id, live_id, &file), plain.clone().into_bytes())
                    .await?;
                self.playlists.insert(rendition, plain);
            }
        }
        let timeline = hub.timeline();
        if self.timeline.as_ref() != Some(&timeline) {
            let json = serde_json::to_vec(&timeline).map_err(std::io::Error::other)?;
            storage
                .put_file(&key(session_id, live_id, TIMELINE), json)
                .await?;
            self.timeline = Some(timeline);
        }
        if self.master.as_ref() != Some(&master) {
            storage
                .put_file(
                    &key(session_id, live_id, MASTER),
                    master.clone().into_bytes(),
                )
                .await?;
            self.master = Some(master);
        }
        Ok(())
    }
}

/// Mirror the live of `hub` until it ends (a last pass writes the ended playlists).
pub async fn run(hub: LiveHub, storage: SharedStorage, session_id: i64, live_id: i64) {
    let mut mirror = Mirror::default();
    let mut failing = false;
    loop {
        let ended = hub.is_ended();
        match mirror.sync(&hub, &storage, session_id, live_id).await {
            Ok(()) => failing = false,
            Err(e) => {
                // once per run of failures: the storage may be back at the next pass
                if !failing {
                    tracing::warn!(live = live_id, error = %e, "mirroring the live");
                }
                failing = true;
            }
        }
        if ended {
            return;
        }
        tokio::time::sleep(MIRROR_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renditions_of_a_master_playlist() {
        let master = "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"audio\",URI=\"audio/index.m3u8\"\n\
                      #EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\n360p/index.m3u8\n";
        assert_eq!(renditions(master), ["audio", "720p", "360p"]);
    }

    #[test]
    fn a_plain_playlist_keeps_complete_segments_only() {
        let ll = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
                  #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5\n\
                  #EXT-X-PART-INF:PART-TARGET=0.5\n#EXT-X-MEDIA-SEQUENCE:3\n\
                  #EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n\
                  #EXT-X-MAP:URI=\"init_0.mp4\"\n\
                  #EXT-X-PROGRAM-DATE-TIME:2026-12-02T10:00:00.000Z\n\
                  #EXT-X-PART:DURATION=0.5,URI=\"part_3_0.m4s\",INDEPENDENT=YES\n\
                  #EXTINF:2.000,\nseg_3.m4s\n\
                  #EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init_1.mp4\"\n\
                  #EXT-X-PART:DURATION=0.5,URI=\"part_4_0.m4s\"\n\
                  #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part_4_1.m4s\"\n";
        let plain = without_parts(ll);
        assert_eq!(
            plain,
            "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:3\n\
             #EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-MAP:URI=\"init_0.mp4\"\n\
             #EXT-X-PROGRAM-DATE-TIME:2026-12-02T10:00:00.000Z\n#EXTINF:2.000,\nseg_3.m4s\n"
        );
        assert_eq!(named_files(&plain), ["init_0.mp4", "seg_3.m4s"]);
        let ended = without_parts(&format!("{ll}#EXT-X-ENDLIST\n"));
        assert!(ended.ends_with("seg_3.m4s\n#EXT-X-ENDLIST\n"), "{ended}");
        let empty = without_parts("#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part_0_0.m4s\"\n");
        assert_eq!(empty, "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        assert_eq!(prefix_of_work_dir("live/3/9").as_deref(), Some("lives/3/9"));
        assert_eq!(key(3, 9, "720p/seg_1.m4s"), "lives/3/9/720p/seg_1.m4s");
    }
}
