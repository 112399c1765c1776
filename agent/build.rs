//! Records the git revision in the binary for `mailbeat_build_info`.
fn main() {
    let revision = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if let Some(r) = revision {
        println!("cargo:rustc-env=MAILBEAT_REVISION={r}");
    }
    println!("cargo:rerun-if-changed=../.git/HEAD");
}
