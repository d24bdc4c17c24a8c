//! Captions and chapters of a lecture: WebVTT or SRT files read, checked and written as WebVTT,
//! and the HLS playlists that list them (a `SUBTITLES` rendition in the master playlist). Plain
//! functions, no HTTP or SQL.
//!
//! Reading is lenient where real files differ and strict where a player would go wrong:
//! UTF-8 with or without a byte-order mark, or GB18030 (what Chinese subtitle tools often save);
//! CRLF, LF or CR line ends; SRT with `,` or `.` before the milliseconds and with or without the
//! cue numbers. A time that is not a time, a cue that ends before it starts, cues out of order,
//! a cue without text or a file without cues is refused with the line at fault, in Chinese.

use std::fmt;

/// What a caption file is for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TrackKind {
    /// Captions shown over the picture (字幕).
    Subtitles,
    /// Chapter titles: markers on the timeline and a list that seeks (章节).
    Chapters,
}

impl TrackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TrackKind::Subtitles => "subtitles",
            TrackKind::Chapters => "chapters",
        }
    }

    pub fn parse(s: &str) -> Option<TrackKind> {
        match s {
            "subtitles" => Some(TrackKind::Subtitles),
            "chapters" => Some(TrackKind::Chapters),
            _ => None,
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            TrackKind::Subtitles => "字幕",
            TrackKind::Chapters => "章节",
        }
    }
}

/// The format a file was uploaded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    WebVtt,
    Srt,
}

impl SourceFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::WebVtt => "webvtt",
            SourceFormat::Srt => "srt",
        }
    }
}

/// The largest caption file accepted (a two-hour lecture's captions are about 100 KB).
pub const MAX_BYTES: usize = 2 * 1024 * 1024;
/// The most cues in one file.
pub const MAX_CUES: usize = 20_000;
/// The longest chapter title, in characters.
pub const MAX_CHAPTER_TITLE: usize = 60;

/// One cue: from `start_ms` to `end_ms`, its text (WebVTT cue text), and the line of the file
/// its timing was on (for errors found later, e.g. beyond the lecture's end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    pub line: usize,
}

/// A file read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    pub format: SourceFormat,
    pub cues: Vec<Cue>,
}

/// Why a file was refused: the line (1-based; 0 when it is the whole file) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptionError {
    pub line: usize,
    pub message: String,
}

impl CaptionError {
    fn at(line: usize, message: impl Into<String>) -> CaptionError {
        CaptionError {
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for CaptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "第 {} 行：{}", self.line, self.message)
        }
    }
}

/// The file's text: UTF-8 (a byte-order mark dropped), UTF-16 with its byte-order mark, or else
/// GB18030; line ends made `\n`.
fn decode(bytes: &[u8]) -> Result<String, CaptionError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let (text, _, malformed) = encoding_rs::GB18030.decode(bytes);
            if malformed {
                return Err(CaptionError::at(
                    0,
                    "文件编码无法识别：请保存为 UTF-8（或 GBK/GB18030）编码的 WebVTT 或 SRT 文件",
                ));
            }
            text.into_owned()
        }
    };
    if text.contains('\0') {
        return Err(CaptionError::at(
            0,
            "这不是文本文件：请上传 WebVTT 或 SRT 字幕文件",
        ));
    }
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// A timestamp: `hh:mm:ss.ttt` or `mm:ss.ttt` (WebVTT), `hh:mm:ss,ttt` (SRT; `.` accepted too).
fn timestamp(s: &str, srt: bool) -> Option<u64> {
    let s = s.trim();
    let (clock, millis) = s.rsplit_once(if srt && s.contains(',') { ',' } else { '.' })?;
    if millis.len() != 3 || !millis.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parts: Vec<&str> = clock.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => (*h, *m, *s),
        [m, s] if !srt => ("0", *m, *s),
        _ => return None,
    };
    let num = |x: &str, max: u64, exact: bool| -> Option<u64> {
        if x.is_empty() || (exact && x.len() != 2) || !x.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: u64 = x.parse().ok()?;
        (v <= max).then_some(v)
    };
    let h = num(h, 999, false)?;
    let m = num(m, 59, true)?;
    let sec = num(sec, 59, true)?;
    let ms: u64 = millis.parse().ok()?;
    Some(((h * 60 + m) * 60 + sec) * 1000 + ms)
}

/// `start --> end [settings]` of a timing line; `None` when the line is not one.
fn timing(line: &str, srt: bool, n: usize) -> Result<Option<(u64, u64)>, CaptionError> {
    let Some((a, b)) = line.split_once("-->") else {
        return Ok(None);
    };
    let b = b.split_whitespace().next().unwrap_or("");
    let example = if srt { "00:01:02,500" } else { "00:01:02.500" };
    let start = timestamp(a, srt).ok_or_else(|| {
        CaptionError::at(
            n,
            format!("开始时间“{}”格式不对，应为 {example} 这样的时间", a.trim()),
        )
    })?;
    let end = timestamp(b, srt).ok_or_else(|| {
        CaptionError::at(
            n,
            format!("结束时间“{}”格式不对，应为 {example} 这样的时间", b.trim()),
        )
    })?;
    if end <= start {
        return Err(CaptionError::at(n, "结束时间应晚于开始时间"));
    }
    Ok(Some((start, end)))
}

/// SRT cue text as WebVTT cue text: formatting tags and ASS overrides (`{\an8}`) dropped,
/// `&`, `<` and `>` escaped.
fn srt_text(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['<', '{']) {
        plain.push_str(&rest[..i]);
        let close = if rest[i..].starts_with('<') { '>' } else { '}' };
        let is_tag = rest[i..].starts_with("{\\")
            || (close == '>'
                && rest[i + 1..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '/'));
        match rest[i..].find(close) {
            Some(j) if is_tag => rest = &rest[i + j + 1..],
            _ => {
                plain.push_str(&rest[i..i + 1]);
                rest = &rest[i + 1..];
            }
        }
    }
    plain.push_str(rest);
    plain
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Read a WebVTT or SRT file (WebVTT when it starts with `WEBVTT`).
pub fn parse(bytes: &[u8]) -> Result<Track, CaptionError> {
    if bytes.len() > MAX_BYTES {
        return Err(CaptionError::at(
            0,
            format!("文件过大：字幕文件不能超过 {} MB", MAX_BYTES / 1024 / 1024),
        ));
    }
    let text = decode(bytes)?;
    let lines: Vec<&str> = text.split('\n').collect();
    let first = lines.first().copied().unwrap_or("");
    let format =
        if first == "WEBVTT" || first.starts_with("WEBVTT ") || first.starts_with("WEBVTT\t") {
            SourceFormat::WebVtt
        } else {
            SourceFormat::Srt
        };
    let srt = format == SourceFormat::Srt;
    if first.starts_with("WEBVTT") && srt {
        return Err(CaptionError::at(
            1,
            "第一行应为“WEBVTT”，其后只能是空格和说明",
        ));
    }
    let mut cues: Vec<Cue> = Vec::new();
    let mut i = 0;
    if !srt {
        // the header runs to the first blank line
        while i < lines.len() && !lines[i].trim().is_empty() {
            if lines[i].contains("-->") && i > 0 {
                return Err(CaptionError::at(i + 1, "“WEBVTT”一行之后要空一行再写字幕"));
            }
            i += 1;
        }
    }
    while i < lines.len() {
        // skip blank lines between blocks
        if lines[i].trim().is_empty() {
            i += 1;
            continue;
        }
        let block_start = i;
        let mut end = i;
        while end < lines.len() && !lines[end].trim().is_empty() {
            end += 1;
        }
        let block = &lines[block_start..end];
        i = end;
        let head = block[0].trim();
        if !srt
            && (head == "NOTE"
                || head.starts_with("NOTE ")
                || head.starts_with("NOTE\t")
                || head == "STYLE"
                || head == "REGION")
        {
            continue;
        }
        // an identifier (SRT: the cue number) may come before the timing line
        let (timing_at, (start, end_ms)) = match timing(block[0], srt, block_start + 1)? {
            Some(t) => (0, t),
            None => match block.get(1).map(|l| timing(l, srt, block_start + 2)) {
                Some(Ok(Some(t))) => (1, t),
                Some(Err(e)) => return Err(e),
                _ => {
                    return Err(CaptionError::at(
                        block_start + 1,
                        if srt {
                            "这里应是字幕序号和时间行（如 00:01:02,500 --> 00:01:05,000）"
                        } else {
                            "这里应是时间行（如 00:01:02.500 --> 00:01:05.000）"
                        },
                    ))
                }
            },
        };
        let n = block_start + timing_at + 1;
        let text_lines = &block[timing_at + 1..];
        if let Some(k) = text_lines.iter().position(|l| l.contains("-->")) {
            return Err(CaptionError::at(
                n + k + 1,
                "字幕文字中不能有“-->”；如果这是下一条字幕，请在前面空一行",
            ));
        }
        let raw = text_lines.join("\n");
        if raw.trim().is_empty() {
            return Err(CaptionError::at(n, "这条字幕没有文字"));
        }
        if let Some(c) = raw
            .chars()
            .find(|c| c.is_control() && *c != '\n' && *c != '\t')
        {
            return Err(CaptionError::at(
                n + 1,
                format!("字幕文字含有控制字符 U+{:04X}", u32::from(c)),
            ));
        }
        let text = if srt { srt_text(&raw) } else { raw };
        if let Some(prev) = cues.last() {
            if start < prev.start_ms {
                return Err(CaptionError::at(
                    n,
                    format!(
                        "字幕应按时间先后排列：这一条开始于 {}，早于上一条（第 {} 行）的 {}",
                        clock(start),
                        prev.line,
                        clock(prev.start_ms)
                    ),
                ));
            }
        }
        cues.push(Cue {
            start_ms: start,
            end_ms,
            text,
            line: n,
        });
        if cues.len() > MAX_CUES {
            return Err(CaptionError::at(
                n,
                format!("字幕条数过多：一个文件最多 {MAX_CUES} 条"),
            ));
        }
    }
    if cues.is_empty() {
        return Err(CaptionError::at(
            0,
            "文件中没有字幕：请上传 WebVTT（以“WEBVTT”开头）或 SRT 字幕文件",
        ));
    }
    Ok(Track { format, cues })
}

/// Check a track for `kind` and a lecture of `duration_s` (when known): every cue starts
/// before the end, chapter titles are one short line.
pub fn check(track: &Track, kind: TrackKind, duration_s: Option<f64>) -> Result<(), CaptionError> {
    for cue in &track.cues {
        if let Some(d) = duration_s {
            let end_ms = (d * 1000.0).round() as u64;
            if cue.start_ms >= end_ms {
                return Err(CaptionError::at(
                    cue.line,
                    format!(
                        "{}时间 {} 超出了课程时长 {}：是否选错了文件？",
                        kind.name_zh(),
                        clock(cue.start_ms),
                        clock(end_ms)
                    ),
                ));
            }
        }
        if kind == TrackKind::Chapters {
            let title = cue.text.trim();
            if title.contains('\n') {
                return Err(CaptionError::at(cue.line + 1, "章节标题只能写一行"));
            }
            if title.chars().count() > MAX_CHAPTER_TITLE {
                return Err(CaptionError::at(
                    cue.line + 1,
                    format!("章节标题不能超过 {MAX_CHAPTER_TITLE} 个字"),
                ));
            }
        }
    }
    Ok(())
}

/// `hh:mm:ss.ttt`, as WebVTT writes times.
fn vtt_time(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// `h:mm:ss` or `m:ss`, as people read a position.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The track as a WebVTT file.
pub fn to_webvtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for c in cues {
        out.push_str(&vtt_time(c.start_ms));
        out.push_str(" --> ");
        out.push_str(&vtt_time(c.end_ms));
        out.push('\n');
        out.push_str(&c.text);
        out.push_str("\n\n");
    }
    out
}

/// A chapter: where it starts and its title (plain text), with its place on the timeline in
/// thousandths of the lecture.
#[derive(Debug, Clone, PartialEq)]
pub struct Chapter {
    pub start_s: f64,
    pub at: String,
    pub title: String,
    pub left_permille: u32,
}

/// Chapters from a stored chapters track (WebVTT written by [`to_webvtt`]).
pub fn chapters(vtt: &str, duration_s: Option<f64>) -> Vec<Chapter> {
    let Ok(track) = parse(vtt.as_bytes()) else {
        return Vec::new();
    };
    let unescape = |s: &str| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    track
        .cues
        .iter()
        .map(|c| {
            let start_s = c.start_ms as f64 / 1000.0;
            let left_permille = match duration_s {
                Some(d) if d > 0.0 => (start_s / d * 1000.0).clamp(0.0, 994.0).round() as u32,
                _ => 0,
            };
            Chapter {
                start_s,
                at: clock(c.start_ms),
                title: unescape(c.text.trim()),
                left_permille,
            }
        })
        .collect()
}

/// The group and the playlist of the subtitle rendition, relative to the master playlist.
pub const SUBTITLE_GROUP: &str = "subs";
pub const SUBTITLE_PLAYLIST: &str = "subs/zh.m3u8";
pub const SUBTITLE_FILE: &str = "zh.vtt";

/// The master playlist with the Chinese subtitle rendition: an `EXT-X-MEDIA:TYPE=SUBTITLES`
/// line after the header tags, and every variant naming the group.
pub fn master_with_subtitles(master: &str) -> String {
    if master.contains("TYPE=SUBTITLES") {
        return master.to_string();
    }
    let media = format!(
        "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"{SUBTITLE_GROUP}\",NAME=\"中文\",LANGUAGE=\"zh\",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI=\"{SUBTITLE_PLAYLIST}\""
    );
    let mut out = String::with_capacity(master.len() + media.len() + 64);
    let mut inserted = false;
    for line in master.lines() {
        let is_header = line == "#EXTM3U"
            || line.starts_with("#EXT-X-VERSION")
            || line.starts_with("#EXT-X-INDEPENDENT-SEGMENTS");
        if !inserted && !is_header {
            out.push_str(&media);
            out.push('\n');
            inserted = true;
        }
        if line.starts_with("#EXT-X-STREAM-INF:") && !line.contains("SUBTITLES=") {
            out.push_str(line);
            out.push_str(&format!(",SUBTITLES=\"{SUBTITLE_GROUP}\""));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    if !inserted {
        out.push_str(&media);
        out.push('\n');
    }
    out
}

/// The subtitle rendition's media playlist: the whole WebVTT file as one segment.
pub fn subtitle_playlist(duration_s: f64) -> String {
    let d = if duration_s.is_finite() && duration_s > 0.0 {
        duration_s
    } else {
        1.0
    };
    format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:{d:.3},\n{SUBTITLE_FILE}\n#EXT-X-ENDLIST\n",
        d.ceil() as u64
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srt_becomes_webvtt() {
        let srt = "1\r\n00:00:01,000 --> 00:00:03,500\r\n各位企业家，<i>大家好</i>。\r\n\r\n2\r\n00:00:04,000 --> 00:01:02,005\r\n{\\an8}劳动合同 & 社保\r\n第二行\r\n";
        let track = parse(srt.as_bytes()).expect("srt");
        assert_eq!(track.format, SourceFormat::Srt);
        assert_eq!(track.cues.len(), 2);
        assert_eq!(
            to_webvtt(&track.cues),
            "WEBVTT\n\n00:00:01.000 --> 00:00:03.500\n各位企业家，大家好。\n\n00:00:04.000 --> 00:01:02.005\n劳动合同 &amp; 社保\n第二行\n\n"
        );
    }

    #[test]
    fn webvtt_with_header_notes_ids_and_short_times() {
        let vtt = "\u{feff}WEBVTT - 示例\nKind: captions\n\nNOTE 这是注释\n一直到空行\n\nintro\n00:01.000 --> 00:02.000 align:start\n<v 律师>您好</v>\n\n01:00:00.000 --> 01:00:01.000\n再见\n";
        let track = parse(vtt.as_bytes()).expect("vtt");
        assert_eq!(track.format, SourceFormat::WebVtt);
        assert_eq!(track.cues.len(), 2);
        assert_eq!(track.cues[0].start_ms, 1000);
        assert_eq!(track.cues[0].text, "<v 律师>您好</v>");
        assert_eq!(track.cues[0].line, 8);
        assert_eq!(track.cues[1].start_ms, 3_600_000);
    }

    #[test]
    fn gb18030_files_are_read() {
        let (bytes, _, _) =
            encoding_rs::GB18030.encode("1\n00:00:01,000 --> 00:00:02,000\n合同审查要点\n");
        let track = parse(&bytes).expect("gbk srt");
        assert_eq!(track.cues[0].text, "合同审查要点");
        // Notepad's "Unicode": UTF-16 with its byte-order mark
        let mut utf16 = vec![0xff, 0xfe];
        for u in "WEBVTT\n\n00:01.000 --> 00:02.000\n知识产权\n".encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(parse(&utf16).expect("utf-16").cues[0].text, "知识产权");
    }

    #[test]
    fn errors_name_the_line() {
        let bad_time = "1\n00:00:01,000 --> 00:00:03,500\n一\n\n2\n00:00:04 --> 00:00:05,000\n二\n";
        let e = parse(bad_time.as_bytes()).unwrap_err();
        assert_eq!(e.line, 6);
        assert!(e.to_string().starts_with("第 6 行："), "{e}");
        assert!(e.message.contains("00:00:04"), "{e}");

        let backwards = "WEBVTT\n\n00:00:05.000 --> 00:00:04.000\n反了\n";
        assert_eq!(parse(backwards.as_bytes()).unwrap_err().line, 3);

        let unordered =
            "WEBVTT\n\n00:00:05.000 --> 00:00:06.000\n二\n\n00:00:01.000 --> 00:00:02.000\n一\n";
        let e = parse(unordered.as_bytes()).unwrap_err();
        assert_eq!(e.line, 6);
        assert!(e.message.contains("第 3 行"), "{e}");

        let no_text = "1\n00:00:01,000 --> 00:00:02,000\n\n";
        assert_eq!(parse(no_text.as_bytes()).unwrap_err().line, 2);

        let missing_gap =
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n一\n00:00:02.000 --> 00:00:03.000\n二\n";
        assert_eq!(parse(missing_gap.as_bytes()).unwrap_err().line, 5);

        let garbage = "这不是字幕\n只是一段话\n";
        assert_eq!(parse(garbage.as_bytes()).unwrap_err().line, 1);

        assert_eq!(parse(b"").unwrap_err().line, 0);
        assert_eq!(parse(b"WEBVTT\n").unwrap_err().line, 0);
        assert_eq!(parse(&[0x81, 0x20, 0x41]).unwrap_err().line, 0);
        let minutes = "WEBVTT\n\n00:61:00.000 --> 00:62:00.000\n六十一分\n";
        assert_eq!(parse(minutes.as_bytes()).unwrap_err().line, 3);
    }

    #[test]
    fn check_against_duration_and_chapter_titles() {
        let track = parse("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n开场\n\n00:10:00.000 --> 00:10:05.000\n迟到的字幕\n".as_bytes()).expect("vtt");
        assert!(check(&track, TrackKind::Subtitles, None).is_ok());
        let e = check(&track, TrackKind::Subtitles, Some(300.0)).unwrap_err();
        assert_eq!(e.line, 6);
        assert!(
            e.message.contains("10:00") && e.message.contains("5:00"),
            "{e}"
        );
        let two_lines =
            parse("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n第一章\n副标题\n".as_bytes())
                .expect("vtt");
        assert_eq!(
            check(&two_lines, TrackKind::Chapters, None)
                .unwrap_err()
                .line,
            4
        );
    }

    #[test]
    fn chapters_are_listed_with_positions() {
        let vtt = to_webvtt(&[
            Cue {
                start_ms: 0,
                end_ms: 60_000,
                text: "开场 &amp; 介绍".into(),
                line: 3,
            },
            Cue {
                start_ms: 150_000,
                end_ms: 300_000,
                text: "劳动用工".into(),
                line: 6,
            },
        ]);
        let list = chapters(&vtt, Some(300.0));
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].title, "开场 & 介绍");
        assert_eq!(list[1].at, "2:30");
        assert_eq!(list[1].left_permille, 500);
    }

    #[test]
    fn master_lists_the_subtitle_rendition() {
        let master = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"audio\",DEFAULT=YES,URI=\"audio/index.m3u8\"\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,AUDIO=\"aac\"\n360p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1600000,RESOLUTION=1280x720,AUDIO=\"aac\"\n720p/index.m3u8\n";
        let m = master_with_subtitles(master);
        let lines: Vec<&str> = m.lines().collect();
        assert_eq!(
            &lines[..3],
            &["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
        );
        assert!(lines[3].starts_with("#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\""));
        assert!(lines[3].contains("LANGUAGE=\"zh\"") && lines[3].contains("URI=\"subs/zh.m3u8\""));
        assert_eq!(m.matches(",SUBTITLES=\"subs\"").count(), 2);
        assert!(m.contains("360p/index.m3u8\n"));
        // idempotent
        assert_eq!(
            master_with_subtitles(&m).matches("TYPE=SUBTITLES").count(),
            1
        );
    }

    #[test]
    fn subtitle_playlist_is_one_segment() {
        let p = subtitle_playlist(61.2);
        assert!(p.contains("#EXT-X-TARGETDURATION:62\n"));
        assert!(p.contains("#EXTINF:61.200,\nzh.vtt\n#EXT-X-ENDLIST"));
    }
}
