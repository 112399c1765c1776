//! `mailbeat token list [--output json]`: per token set, who uses it and how healthy it is;
//! never a token. Sets the config names but the store does not have are listed as not
//! authorized; stored sets no target uses any more are listed with no targets.

use crate::cli::{Output, TokenListArgs};
use crate::config::Config;
use crate::oauth::predict::{refresh_token_end, History, Prediction};
use crate::oauth::{ProviderKind, Tokens};
use crate::state::tokens::TokenSet;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::SystemTime;

#[derive(Debug, Serialize)]
pub(super) struct Listing {
    version: u32,
    /// Tokens are sealed at rest (`global.state_key_file`).
    sealed: bool,
    token_sets: Vec<Row>,
}

#[derive(Debug, Serialize)]
pub(super) struct Row {
    name: String,
    targets: Vec<String>,
    provider: String,
    account: String,
    /// A refresh token is stored.
    authorized: bool,
    access_token_expires_at: Option<String>,
    refresh_token_predicted_end: Option<String>,
    /// `announced`, `configured_lifetime` or `inactivity` (`oauth::predict`).
    refresh_token_predicted_basis: Option<&'static str>,
    authorized_at: Option<String>,
    last_refresh: Option<String>,
    last_used: Option<String>,
    last_error: Option<LastError>,
}

#[derive(Debug, Serialize)]
struct LastError {
    reason: String,
    message: String,
    at: String,
    /// A person must act: the same refresh token will not work again.
    terminal: bool,
}

pub(super) async fn run(
    config: &Config,
    tokens: &Tokens,
    args: &TokenListArgs,
) -> Result<(), String> {
    let store = tokens.store().ok_or("the token store is not open")?;
    let sets = store.list().await.map_err(|e| e.to_string())?;
    let listing = Listing {
        version: 1,
        sealed: store.is_sealing(),
        token_sets: rows(config, &sets),
    };
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&listing).map_err(|e| e.to_string())?
        ),
        Output::Table => print!("{}", table(&listing)),
    }
    Ok(())
}

fn when(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

pub(super) fn rows(config: &Config, sets: &[TokenSet]) -> Vec<Row> {
    // The configured sets, each with the targets that use it.
    let mut configured: BTreeMap<
        String,
        (Vec<String>, std::sync::Arc<crate::config::OauthAccount>),
    > = BTreeMap::new();
    for t in &config.targets {
        if let Some(a) = &t.oauth {
            configured
                .entry(a.token.clone())
                .or_insert_with(|| (Vec::new(), a.clone()))
                .0
                .push(t.target.name.clone());
        }
    }
    let mut rows = Vec::new();
    for set in sets {
        let (targets, account) = match configured.remove(&set.name) {
            Some((targets, account)) => (targets, Some(account)),
            None => (Vec::new(), None),
        };
        let prediction = match &account {
            Some(a) => crate::oauth::tokens::predict(a, set),
            None => orphan_prediction(set),
        };
        rows.push(Row {
            name: set.name.clone(),
            targets,
            provider: set.provider.clone(),
            account: set.account.clone(),
            authorized: set.refresh_token.is_some(),
            access_token_expires_at: set.access_token.as_ref().and(set.access_expires).map(when),
            refresh_token_predicted_end: prediction.map(|p| when(p.at)),
            refresh_token_predicted_basis: prediction.map(|p| p.basis),
            authorized_at: Some(when(set.issued_at)),
            last_refresh: set.last_refresh.map(when),
            last_used: set.last_used.map(when),
            last_error: set.last_error.as_ref().map(|e| LastError {
                reason: e.reason.clone(),
                message: e.message.clone(),
                at: when(e.at),
                terminal: e.terminal,
            }),
        });
    }
    for (name, (targets, account)) in configured {
        rows.push(Row {
            name,
            targets,
            provider: account.provider.as_str().to_string(),
            account: account.username.clone(),
            authorized: false,
            access_token_expires_at: None,
            refresh_token_predicted_end: None,
            refresh_token_predicted_basis: None,
            authorized_at: None,
            last_refresh: None,
            last_used: None,
            last_error: None,
        });
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// The prediction for a set no target configures: the provider's policy alone.
fn orphan_prediction(set: &TokenSet) -> Option<Prediction> {
    let provider = ProviderKind::parse(&set.provider)?;
    refresh_token_end(
        provider,
        &History {
            issued_at: set.issued_at,
            rotated_at: set.rotated_at,
            last_refresh: set.last_refresh,
            announced_end: set.refresh_announced_end,
            configured_lifetime: None,
        },
    )
}

pub(super) fn table(listing: &Listing) -> String {
    let header = [
        "TOKEN SET",
        "TARGETS",
        "PROVIDER",
        "ACCOUNT",
        "ACCESS EXPIRES",
        "REFRESH END (PREDICTED)",
        "AUTHORIZED",
        "LAST REFRESH",
        "LAST ERROR",
    ];
    let dash = || "-".to_string();
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for r in &listing.token_sets {
        lines.push(vec![
            r.name.clone(),
            if r.targets.is_empty() {
                "(none)".into()
            } else {
                r.targets.join(",")
            },
            r.provider.clone(),
            r.account.clone(),
            r.access_token_expires_at.clone().unwrap_or_else(dash),
            match (
                &r.refresh_token_predicted_end,
                r.refresh_token_predicted_basis,
            ) {
                (Some(at), Some(basis)) => format!("{at} ({basis})"),
                _ => dash(),
            },
            if r.authorized {
                r.authorized_at.clone().unwrap_or_else(dash)
            } else {
                "not authorized".into()
            },
            r.last_refresh.clone().unwrap_or_else(dash),
            r.last_error
                .as_ref()
                .map(|e| format!("{}: {}", e.reason, e.message))
                .unwrap_or_else(dash),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in &lines {
        let cells: Vec<String> = l
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i + 1 == l.len() {
                    c.clone()
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if listing.token_sets.is_empty() {
        out.push_str("(no OAuth2 token sets are configured or stored)\n");
    }
    out
}
