//! The deployment files in `deploy/` pass the tools that judge them:
//!
//! - the systemd unit: `systemd-analyze verify` (with `ExecStart` pointed at the binary this test
//!   run built, since verify checks that the command exists) and `systemd-analyze security
//!   --offline=yes`, whose exposure score must stay the one the README states;
//! - the Kubernetes manifests: `kubernetes-validate --strict` against the Kubernetes schemas
//!   (installed by tests/harness/install.sh), and what they promise each other: the StatefulSet's
//!   shard total is its replica count, the shard index comes from the pod ordinal, the probes hit
//!   `/-/healthy` and `/-/ready`, the mounted ConfigMap and Secret are the ones shipped;
//! - the Prometheus scrape file: `promtool check config` (Debian's promtool knows no Kubernetes
//!   discovery: then with that block swapped for a static target, and the block's keys checked).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(rel: &str) -> Value {
    serde_saphyr::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn output(tool: &str, args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(tool);
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap_or_else(|e| {
        panic!("{tool} not found ({e}): run bash tests/run-all.sh, which installs it")
    })
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The unit with `ExecStart` pointing at the binary of this test run, in a temporary directory.
fn unit_with_this_binary(dir: &Path) -> PathBuf {
    let unit = read("deploy/systemd/mailbeat.service");
    assert!(unit.contains("ExecStart=/usr/bin/mailbeat "), "{unit}");
    let unit = unit.replace("/usr/bin/mailbeat", env!("CARGO_BIN_EXE_mailbeat"));
    let path = dir.join("mailbeat.service");
    std::fs::write(&path, unit).unwrap();
    path
}

/// The exposure score the README states for the unit.
const EXPOSURE: &str = "1.1";

#[test]
fn the_systemd_unit_verifies_and_keeps_its_exposure_score() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_with_this_binary(dir.path());
    let unit = unit.to_str().unwrap();
    let out = output("systemd-analyze", &["verify", unit], &[]);
    assert!(
        out.status.success() && text(&out).trim().is_empty(),
        "systemd-analyze verify: {}",
        text(&out)
    );

    let out = output("systemd-analyze", &["security", "--offline=yes", unit], &[]);
    let words = text(&out);
    assert!(out.status.success(), "systemd-analyze security: {words}");
    let score = words
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for mailbeat.service: "))
        .map(|(_, rest)| {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_else(|| panic!("no exposure level in: {words}"));
    assert_eq!(score, EXPOSURE, "the README states {EXPOSURE}: {words}");
    let readme = read("README.md");
    assert!(
        readme.contains(&format!("exposure level {EXPOSURE}")),
        "README's Deploy section states the exposure level"
    );
}

#[test]
fn the_systemd_unit_is_hardened_as_documented() {
    let unit = read("deploy/systemd/mailbeat.service");
    for line in [
        "DynamicUser=yes",
        "StateDirectory=mailbeat",
        "ConfigurationDirectory=mailbeat",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "AmbientCapabilities=\n",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
        "LockPersonality=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "RestrictNamespaces=yes",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
    ] {
        assert!(unit.contains(line), "the unit lacks {line:?}");
    }
}

#[test]
fn a_unit_whose_binary_is_missing_fails_verify() {
    // The premise of the test above: verify looks at the ExecStart binary.
    let dir = tempfile::tempdir().unwrap();
    let unit = read("deploy/systemd/mailbeat.service").replace(
        "/usr/bin/mailbeat",
        dir.path().join("no-such-binary").to_str().unwrap(),
    );
    let path = dir.path().join("mailbeat.service");
    std::fs::write(&path, unit).unwrap();
    let out = output("systemd-analyze", &["verify", path.to_str().unwrap()], &[]);
    assert!(!out.status.success(), "{}", text(&out));
}

const MANIFESTS: &[&str] = &[
    "deploy/kubernetes/configmap.yaml",
    "deploy/kubernetes/secret.yaml",
    "deploy/kubernetes/service.yaml",
    "deploy/kubernetes/statefulset.yaml",
];

/// Where tests/harness/install.sh put the `kubernetes-validate` package (pip --target).
fn pip_dir() -> PathBuf {
    std::env::var_os("MAILBEAT_PIP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/mailbeat-tests/pip"))
}

#[test]
#[ignore = "needs kubernetes-validate from PyPI: run bash tests/run-all.sh"]
fn the_kubernetes_manifests_pass_the_kubernetes_schemas() {
    let pip = pip_dir();
    assert!(
        pip.join("kubernetes_validate").is_dir(),
        "{}: no kubernetes_validate; tests/harness/install.sh installs it",
        pip.display()
    );
    let files: Vec<String> = MANIFESTS
        .iter()
        .map(|m| root().join(m).to_str().unwrap().to_string())
        .collect();
    let mut args = vec!["-m", "kubernetes_validate", "--strict"];
    args.extend(files.iter().map(String::as_str));
    let out = output("python3", &args, &[("PYTHONPATH", &pip)]);
    let words = text(&out);
    assert!(out.status.success(), "kubernetes-validate: {words}");
    for m in MANIFESTS {
        assert!(
            words.contains(&format!("{} passed", Path::new(m).display()))
                || words.contains(&format!("{} passed", root().join(m).to_str().unwrap())),
            "{m} not reported as passed: {words}"
        );
    }

    // The validator must refuse what is wrong, or its pass means nothing.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    let broken = read("deploy/kubernetes/statefulset.yaml").replace(
        "serviceName: mailbeat",
        "serviceName: mailbeat\n  replicaz: 3",
    );
    std::fs::write(&bad, broken).unwrap();
    let out = output(
        "python3",
        &[
            "-m",
            "kubernetes_validate",
            "--strict",
            bad.to_str().unwrap(),
        ],
        &[("PYTHONPATH", &pip)],
    );
    assert!(!out.status.success(), "a typo passed: {}", text(&out));
}

#[test]
fn the_statefulset_shards_by_ordinal_and_probes_the_agent() {
    let sts = yaml("deploy/kubernetes/statefulset.yaml");
    let spec = &sts["spec"];
    let replicas = spec["replicas"].as_u64().expect("replicas");
    assert_eq!(spec["serviceName"], "mailbeat");
    let pod = &spec["template"]["spec"];
    let c = &pod["containers"][0];
    let script = c["args"][0].as_str().expect("the shell command");
    assert!(
        script.contains("--shard.total \"$SHARD_TOTAL\""),
        "{script}"
    );
    assert!(
        script.contains("--shard.index \"${POD_NAME##*-}\""),
        "{script}"
    );
    let env = c["env"].as_array().unwrap();
    let var = |name: &str| env.iter().find(|e| e["name"] == name).cloned();
    assert_eq!(
        var("SHARD_TOTAL").unwrap()["value"].as_str(),
        Some(replicas.to_string().as_str()),
        "SHARD_TOTAL must equal spec.replicas"
    );
    assert_eq!(
        var("POD_NAME").unwrap()["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/-/healthy");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/-/ready");

    // The ordinal as the shell derives it: the digits after the last '-' of the pod name.
    for (name, ordinal) in [
        ("mailbeat-0", "0"),
        ("mailbeat-12", "12"),
        ("my-mail-beat-3", "3"),
    ] {
        let out = Command::new("sh")
            .args(["-c", "printf %s \"${POD_NAME##*-}\""])
            .env("POD_NAME", name)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), ordinal);
    }

    // The mounts are the shipped ConfigMap and Secret, and the config it reads is in the map.
    let cm = yaml("deploy/kubernetes/configmap.yaml");
    let secret = yaml("deploy/kubernetes/secret.yaml");
    let volumes = pod["volumes"].as_array().unwrap();
    assert!(volumes
        .iter()
        .any(|v| v["configMap"]["name"] == cm["metadata"]["name"]));
    assert!(volumes
        .iter()
        .any(|v| v["secret"]["secretName"] == secret["metadata"]["name"]));
    assert!(script.contains("--config.file /etc/mailbeat/mailbeat.yaml"));
    let config = cm["data"]["mailbeat.yaml"].as_str().unwrap();
    assert!(config.contains("state_dir: /var/lib/mailbeat"), "{config}");
    let service = yaml("deploy/kubernetes/service.yaml");
    assert_eq!(service["spec"]["clusterIP"], "None", "headless");
}

#[test]
fn the_configmap_and_secret_make_a_config_that_loads() {
    // The two mounts as the pod sees them, under a temporary /etc/mailbeat: the config from the
    // ConfigMap, each key of the Secret a file in secrets/.
    let cm = yaml("deploy/kubernetes/configmap.yaml");
    let secret = yaml("deploy/kubernetes/secret.yaml");
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc-mailbeat");
    std::fs::create_dir_all(etc.join("secrets")).unwrap();
    for (key, value) in secret["stringData"].as_object().unwrap() {
        std::fs::write(etc.join("secrets").join(key), value.as_str().unwrap()).unwrap();
    }
    let config = cm["data"]["mailbeat.yaml"]
        .as_str()
        .unwrap()
        .replace("/etc/mailbeat", etc.to_str().unwrap())
        .replace(
            "/var/lib/mailbeat",
            dir.path().join("state").to_str().unwrap(),
        );
    let path = etc.join("mailbeat.yaml");
    std::fs::write(&path, config).unwrap();
    let out = output(
        env!("CARGO_BIN_EXE_mailbeat"),
        &["validate", "--config.file", path.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "mailbeat validate: {}", text(&out));
}

/// The roles Prometheus's `kubernetes_sd_configs` knows (its configuration reference).
const KUBERNETES_SD_ROLES: &[&str] = &[
    "node",
    "service",
    "pod",
    "endpoints",
    "endpointslice",
    "ingress",
];

#[test]
fn the_prometheus_scrape_file_passes_promtool() {
    let rel = "deploy/kubernetes/prometheus-scrape.yml";
    let file = root().join(rel);
    let out = output(
        "promtool",
        &["check", "config", file.to_str().unwrap()],
        &[],
    );
    if out.status.success() {
        return;
    }
    // Debian builds Prometheus without Kubernetes discovery: its promtool refuses the key itself.
    // Then everything else is checked by promtool with the discovery block swapped for a static
    // target, and the block against the keys Prometheus documents.
    let words = text(&out);
    assert!(
        words.contains("field kubernetes_sd_configs not found"),
        "promtool: {words}"
    );
    let scrape = yaml(rel);
    let job = &scrape["scrape_configs"][0];
    let sd = job["kubernetes_sd_configs"]
        .as_array()
        .expect("kubernetes_sd_configs");
    for block in sd {
        let keys: Vec<&String> = block.as_object().unwrap().keys().collect();
        for k in &keys {
            assert!(
                [
                    "role",
                    "namespaces",
                    "selectors",
                    "api_server",
                    "attach_metadata"
                ]
                .contains(&k.as_str()),
                "{k}"
            );
        }
        assert!(
            KUBERNETES_SD_ROLES.contains(&block["role"].as_str().unwrap_or_default()),
            "{block}"
        );
    }
    let source = read(rel);
    let start = source.find("    kubernetes_sd_configs:").unwrap();
    let end = source[start..].find("    relabel_configs:").unwrap() + start;
    let swapped = format!(
        "{}    static_configs:\n      - targets: ['mailbeat-0.mailbeat:9725']\n{}",
        &source[..start],
        &source[end..]
    );
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("prometheus-scrape.yml");
    std::fs::write(&copy, swapped).unwrap();
    let out = output(
        "promtool",
        &["check", "config", copy.to_str().unwrap()],
        &[],
    );
    assert!(
        out.status.success(),
        "promtool (discovery swapped): {}",
        text(&out)
    );
}
