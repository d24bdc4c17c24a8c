//! The deployment files say what the binary understands: every variable of `deploy/pufa.env`
//! (commented ones too) is an option of `pufa serve`, and the systemd units start commands that
//! exist.

use std::path::Path;
use std::process::Command;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pufa"))
        .args(args)
        .arg("--help")
        .output()
        .expect("pufa --help");
    assert!(out.status.success(), "pufa {args:?} --help");
    String::from_utf8(out.stdout).expect("utf-8 help")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect(path)
}

#[test]
fn every_variable_of_the_example_configuration_is_an_option() {
    let serve = help(&["serve"]);
    let env = read("deploy/pufa.env");
    let names: Vec<&str> = env
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .filter(|k| k.starts_with("PUFA_"))
        .collect();
    assert!(names.len() >= 15, "{names:?}");
    for name in names {
        // secrets are listed without their value: `[env: NAME]`
        assert!(
            serve.contains(&format!("[env: {name}=")) || serve.contains(&format!("[env: {name}]")),
            "deploy/pufa.env sets {name}, which `pufa serve` does not read"
        );
    }
    // the worker takes serve's options, so the same file configures it
    let worker = help(&["worker"]);
    assert!(worker.contains("[env: PUFA_TRANSCODE_WORKERS=") && worker.contains("--kinds"));
}

#[test]
fn the_units_start_commands_that_exist() {
    for (unit, command) in [
        ("deploy/systemd/pufa.service", "serve"),
        ("deploy/systemd/pufa-worker.service", "worker"),
    ] {
        let text = read(unit);
        let exec = text
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap_or_else(|| panic!("{unit}: no ExecStart"));
        let args: Vec<&str> = exec.split_whitespace().skip(1).collect();
        assert_eq!(args.first(), Some(&command), "{unit}");
        // the options it passes parse (pufa … --help accepts them before printing)
        let mut with_help: Vec<&str> = args.clone();
        with_help.push("--help");
        let out = Command::new(env!("CARGO_BIN_EXE_pufa"))
            .args(&with_help)
            .output()
            .expect("pufa");
        assert!(out.status.success(), "{unit}: {exec}");
        assert!(
            text.contains("EnvironmentFile=/etc/pufa/pufa.env"),
            "{unit}"
        );
    }
}
