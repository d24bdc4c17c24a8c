//! `pufa transcode INPUT -o OUTDIR [--ladder 1080,720,480,360]`: offline transcoding with a
//! progress bar on a terminal (plain periodic lines otherwise, e.g. under systemd or CI).

use crate::media::ladder;
use crate::media::transcode::{self, Control, Progress, TranscodeOptions};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Exit code for a bad command line (bad ladder).
const EXIT_USAGE: u8 = 2;
/// Exit code for a failed transcode.
const EXIT_FAILED: u8 = 1;

/// Run the offline transcoder. Prints one line on failure: the Chinese reason for organizers
/// followed by the English detail, e.g. `转码失败：文件中没有可解码的音频或视频流 (no decodable
/// audio or video stream)`. No `OUTDIR/master.m3u8` is created on failure.
pub fn run(input: &Path, out: &Path, ladder: Option<&str>) -> ExitCode {
    let rungs = match ladder {
        None => ladder::DEFAULT_LADDER.to_vec(),
        Some(text) => match ladder::parse_ladder(text) {
            Ok(rungs) => rungs,
            Err(e) => {
                eprintln!("转码参数无效：--ladder 应为逗号分隔的高度，例如 1080,720,480,360 ({e})");
                return ExitCode::from(EXIT_USAGE);
            }
        },
    };
    let opts = TranscodeOptions {
        ladder: rungs,
        ..TranscodeOptions::default().with_env()
    };

    let started = Instant::now();
    let mut display = Display::new(std::io::stderr().is_terminal());
    let result = transcode::transcode(input, out, &opts, &mut |p: &Progress| {
        display.update(p);
        Control::Continue
    });
    display.finish();

    match result {
        Ok(report) => {
            for warning in &report.warnings {
                eprintln!("警告 (warning): {warning}");
            }
            let rungs: Vec<String> = report
                .renditions
                .iter()
                .map(|r| match r.kind {
                    transcode::RenditionKind::Video => format!("{}x{}", r.width, r.height),
                    transcode::RenditionKind::Audio => "audio".to_string(),
                })
                .collect();
            eprintln!(
                "完成 (done): {} — {:.1} s of media, renditions: {}, in {:.1} s",
                out.join("master.m3u8").display(),
                report.duration_s,
                rungs.join(", "),
                started.elapsed().as_secs_f64()
            );
            eprintln!(
                "{} (path: {}, {})",
                report.path.note_zh(),
                report.path.path.as_str(),
                report.path.reason.as_str()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("转码失败：{} ({e})", e.message_zh());
            ExitCode::from(EXIT_FAILED)
        }
    }
}

enum Display {
    Bar(ProgressBar),
    Lines { last: Option<Instant> },
}

impl Display {
    fn new(terminal: bool) -> Self {
        if terminal {
            let bar = ProgressBar::new(1000);
            let style = ProgressStyle::with_template(
                "{spinner} 转码 [{elapsed_precise}] [{wide_bar}] {percent:>3}% {msg} (eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style.progress_chars("=> "));
            bar.enable_steady_tick(Duration::from_millis(200));
            Display::Bar(bar)
        } else {
            Display::Lines { last: None }
        }
    }

    fn update(&mut self, p: &Progress) {
        match self {
            Display::Bar(bar) => {
                bar.set_position((p.fraction * 1000.0).round() as u64);
                bar.set_message(match p.duration_s {
                    Some(d) => format!("{:.0}/{:.0} s", p.out_time_s, d),
                    None => format!("{:.0} s", p.out_time_s),
                });
            }
            Display::Lines { last } => {
                if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) || p.fraction >= 1.0 {
                    *last = Some(Instant::now());
                    match p.duration_s {
                        Some(d) => eprintln!(
                            "transcode: {:5.1}% ({:.1}/{:.1} s)",
                            p.fraction * 100.0,
                            p.out_time_s,
                            d
                        ),
                        None => eprintln!("transcode: {:.1} s", p.out_time_s),
                    }
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Display::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
