//! Config errors as a user meets them: `validate` and `check` report every problem of the file
//! at once (the parser's and the validator's), each with its line, column and snippet, no secret
//! in it; and the README's sample is the program's own output.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config/testdata/invalid-many-typos.yml")
}

#[test]
fn validate_and_check_report_every_problem_of_the_file() {
    for (command, exit) in [("validate", 1), ("check", 3)] {
        let out = support::mailbeat(&[command], &fixture());
        assert_eq!(out.status.code(), Some(exit), "{command}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let headers: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("invalid-many-typos.yml:") && !l.contains("-->"))
            .collect();
        assert_eq!(headers.len(), 6, "{command}: {stderr}");
        for want in [
            ":4:10: global.every: invalid duration",
            ":10:7: targets[0].account.pasword: unknown field",
            ":17:14: targets[1].ca_file: cannot read ca_file ",
            ":18:20: targets[1].probes[1]: unknown probe \"tsl\"",
            ":21:5: targets[2].hots: unknown field",
            ":28:5: targets[3].tiemout: unknown field",
        ] {
            assert!(
                headers.iter().any(|h| h.contains(want)),
                "{command}: {want} in {stderr}"
            );
        }
        assert_eq!(stderr.matches("-->").count(), 6, "a snippet each: {stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
        assert!(stderr.contains("timeout: 15s"), "{stderr}");
        assert!(
            stderr.contains("every: 5x               # not a duration"),
            "{stderr}"
        );
    }
}

/// The `<!-- config-errors-sample -->` file of the README and the output under it.
fn readme_sample() -> (String, String) {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let (_, after) = readme
        .split_once("<!-- config-errors-sample -->\n```yaml\n")
        .expect("the README has the config errors sample");
    let (yaml, after) = after.split_once("```\n").unwrap();
    let (_, after) = after.split_once("```text\n").unwrap();
    let (output, _) = after.split_once("\n```\n").unwrap();
    (yaml.to_string(), output.to_string())
}

#[test]
fn the_readme_sample_error_is_the_programs_output() {
    let (yaml, want) = readme_sample();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mailbeat.yaml"), yaml).unwrap();
    let out = Command::new(support::BIN)
        .arg("validate")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let got = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        got.trim_end(),
        want.trim_end(),
        "regenerate the README's sample from this output"
    );
}
