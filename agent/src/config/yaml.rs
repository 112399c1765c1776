//! The YAML parser's resource limits, sized for configs of 100,000+ targets.
//!
//! serde-saphyr guards against hostile YAML with a budget. Its default of 250,000 nodes is
//! reached by a config of about 18,000 one-line targets (a target is 12–40 nodes), so a provider's
//! 100,000 mailboxes could not even be loaded. The limits below are raised to what
//! [`SIZED_FOR_TARGETS`] targets of [`NODES_PER_TARGET`] nodes need and no further, so the file's
//! size still bounds the work. What makes YAML hostile is not size but expansion (an alias bomb,
//! "billion laughs", where a few lines replay into billions of nodes): the alias limits stay at the
//! library's defaults, since a real config uses aliases only to share a few snippets.

use serde::de::DeserializeOwned;
use serde_saphyr::{options::AliasLimits, Budget, Options};

/// How many targets one file is sized for: 2.5 × the 100,000 of issue #12, for growth.
pub const SIZED_FOR_TARGETS: usize = 250_000;

/// Nodes (scalars, sequences, maps) of a large target: name, host, port, protocol, labels, an
/// account with a secret file and a few probes with options.
pub const NODES_PER_TARGET: usize = 40;

/// The largest config file read, in bytes (about 1 KiB per target is a generous target).
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// The parser options every config file is read with.
pub fn options() -> Options {
    let nodes = SIZED_FOR_TARGETS * NODES_PER_TARGET;
    // Both structs are non-exhaustive: start from the defaults and raise only the size limits.
    let mut budget = Budget::default();
    budget.max_nodes = nodes;
    // Every node is at least one event and a collection two (start, end).
    budget.max_events = nodes * 2;
    // Scalar text of 250,000 targets at ~400 bytes each; the file size bounds it anyway.
    budget.max_total_scalar_bytes = 128 * 1024 * 1024;
    let mut options = Options::default();
    options.budget = Some(budget);
    // Not scaled: replay is where the blow-up of an alias bomb happens.
    options.alias_limits = AliasLimits::default();
    options
}

/// Parses `text` with [`options`].
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, options())
}

/// Reads a config file, refusing one larger than [`MAX_FILE_BYTES`] before reading it whole.
pub fn read_bounded(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB; split the targets into target_files",
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    Ok(text)
}

/// The library's "budget breached: Nodes { nodes: 10000001 }" in words a user can act on.
pub fn explain_budget(message: &str) -> String {
    let Some((before, breach)) = message.split_once("budget breached: ") else {
        return message.to_string();
    };
    let what = breach.split([' ', '{']).next().unwrap_or_default();
    let why = match what {
        "RecordedAnchorEvents" | "RecordedAnchorBytes" | "Aliases" | "AliasAnchorRatio" => {
            "its anchors and aliases expand to more than the parser allows (a YAML alias bomb?)"
                .to_string()
        }
        _ => format!(
            "the file is larger than the parser allows (sized for {SIZED_FOR_TARGETS} targets); split the targets into target_files"
        ),
    };
    format!("{before}YAML refused: {why} [{}]", breach.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::RawConfig;

    #[test]
    fn a_config_of_100000_targets_parses() {
        let mut text = String::from("global: {every: 5m}\ntargets:\n");
        for i in 0..100_000 {
            text.push_str(&format!(
                "  - name: mbx-{i:06}\n    protocol: imap\n    host: imap{}.example.com\n    port: 993\n    labels: {{team: t{}, tier: gold}}\n    account: {{username: u{i}@example.com, password_file: secrets/pw}}\n    probes: [port, tls, auth]\n",
                i % 50,
                i % 7
            ));
        }
        let raw: RawConfig = from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(raw.targets.len(), 100_000);
        // ... and validates into a config (the same path `load` takes).
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        std::fs::write(dir.path().join("secrets/pw"), "pw").unwrap();
        let probes = mailbeat_probes::builtin();
        let config = crate::config::parse(&text, "big.yml", dir.path(), &probes)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.targets.len(), 100_000);
    }

    #[test]
    fn an_alias_bomb_is_refused_with_a_clear_error() {
        // "Billion laughs": each level repeats the one above ten times; 10^9 nodes at the end.
        // Free-form probe options are where a deep value can land.
        let mut text = String::from(
            "probe_defaults:\n  port:\n    a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
        );
        for level in 1..=9 {
            let prev = level - 1;
            let refs = vec![format!("*a{prev}"); 10].join(", ");
            text.push_str(&format!("    a{level}: &a{level} [{refs}]\n"));
        }
        let err = crate::config::parse(&text, "bomb.yml", std::path::Path::new("."), &[])
            .expect_err("an alias bomb must not parse");
        let message = err.to_string();
        assert!(
            message.starts_with("bomb.yml:")
                && message.contains("anchors and aliases expand to more than the parser allows"),
            "the error says where and why: {message}"
        );
    }
}
