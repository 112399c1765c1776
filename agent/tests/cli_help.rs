//! `--help` advertises the listener's flags only where something listens: `run` (and the bare
//! command) has them, `check` and the other one-shot commands do not; `validate` has only
//! `--web.config.file`, which it checks.

mod support;

fn help(args: &[&str]) -> String {
    let out = std::process::Command::new(support::BIN)
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

const LISTENER: [&str; 4] = [
    "--web.listen-address",
    "--web.config.file",
    "--web.enable-lifecycle",
    "--web.external-url",
];

#[test]
fn only_commands_that_listen_advertise_the_listener_flags() {
    for args in [&["run"][..], &[][..]] {
        let text = help(args);
        for flag in LISTENER {
            assert!(text.contains(flag), "{args:?} lacks {flag}: {text}");
        }
    }
    for args in [
        &["check"][..],
        &["plugins"][..],
        &["token", "list"][..],
        &["reauth"][..],
    ] {
        let text = help(args);
        for flag in LISTENER {
            assert!(!text.contains(flag), "{args:?} shows {flag}: {text}");
        }
        assert!(text.contains("--config.file"), "{text}");
    }
    let text = help(&["validate"]);
    assert!(text.contains("      --web.config.file <FILE>"), "{text}");
    for flag in [
        "--web.listen-address",
        "--web.enable-lifecycle",
        "--web.external-url",
    ] {
        assert!(!text.contains(flag), "validate shows {flag}: {text}");
    }
}
