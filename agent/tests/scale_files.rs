//! The scale-out example Prometheus configs (`config/prometheus.shards.example.yml`,
//! `config/prometheus.hashmod.example.yml`) pass `promtool check config`.

use std::path::Path;
use std::process::Command;

#[test]
#[ignore = "needs promtool (Debian's prometheus package): run bash tests/run-all.sh"]
fn the_scale_out_prometheus_configs_pass_promtool() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    for file in [
        "prometheus.shards.example.yml",
        "prometheus.hashmod.example.yml",
    ] {
        let out = Command::new("promtool")
            .args(["check", "config", file])
            .current_dir(&config)
            .output()
            .unwrap_or_else(|e| panic!("promtool not found ({e}): run bash tests/run-all.sh"));
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{file}: {said}");
        assert!(!said.contains("WARNING"), "{file}: {said}");
    }
}
