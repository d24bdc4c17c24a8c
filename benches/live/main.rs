//! Live lecture benchmarks against the real release binary (issue 11). Each scenario starts
//! `pufa serve --demo` itself with its data in a temporary folder, publishes with the ffmpeg
//! CLI (all media from lavfi), and prints Markdown tables with its baseline:
//!
//! ```sh
//! cargo bench --bench live -- latency    # glass-to-glass, LL-HLS vs plain HLS (chromium, tesseract)
//! cargo bench --bench live -- realtime   # 10 min of 1080p30 in real time: CPU, lag, dropped rungs; ffmpeg CLI
//! cargo bench --bench live -- viewers    # 500 logged-in viewers on loopback; nginx serving the same files
//! cargo bench --bench live -- replay     # publisher stops → replay published; upload transcode
//! ```
//!
//! Without a scenario it prints this list and exits (so `cargo bench` stays short). Sizes and
//! durations come from `PUFA_BENCH_*` variables, listed in each scenario's module doc.
#![allow(clippy::unwrap_used)]

// The integration tests' credit-code fixtures (check characters from pufa's own validator) and
// their WebDriver client, which asks for `crate::helpers::{ChildGuard, first_line_after}`.
#[path = "../../tests/api/credit_code.rs"]
mod credit_code;
#[allow(dead_code)]
#[path = "../../tests/api/webdriver.rs"]
mod webdriver;
mod helpers {
    pub use crate::common::{first_line_after, ChildGuard};
}

#[allow(dead_code)]
mod common;
mod latency;
mod realtime;
mod replay;
mod viewers;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo bench --bench live -- latency|realtime|viewers|replay";

fn main() -> ExitCode {
    let scenario = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match scenario.as_str() {
            "latency" => latency::run().await,
            "realtime" => realtime::run().await,
            "viewers" => viewers::run().await,
            "replay" => replay::run().await,
            _ => {
                println!("{USAGE}");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("live bench {scenario}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A duration or count from the environment, or `default`.
pub fn env_num(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Print the machine's state once at the start of a scenario.
pub fn print_header(what: &str) {
    println!(
        "## {what}\n\ncommit {}, load average at start {}, {} CPUs\n",
        std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .unwrap_or_default()
            .trim(),
        common::load_average(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
}
