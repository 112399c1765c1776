//! The bodies of `mailbeat reauth` (`reauth.rs`), `mailbeat token import` (`import.rs`) and
//! `mailbeat token list` (`list.rs`). `main.rs` loads the config, asks [`preflight`] (nothing
//! contacted, nothing opened), opens the state as `check` does, then calls [`run`].
//!
//! What a person must read (the URL to open, the code to enter, what was stored) goes to
//! stdout; errors come back as one line for stderr. No token, code or secret is printed.

mod import;
mod list;
mod reauth;

use crate::cli::{ReauthArgs, TokenCommand};
use crate::config::{Config, OauthAccount};
use crate::oauth::Tokens;
use std::sync::Arc;

/// A command that works on the token store.
#[derive(Debug, Clone)]
pub enum OauthCommand {
    Reauth(ReauthArgs),
    Token(TokenCommand),
}

/// The OAuth account of target `name`, or why it has none.
pub fn account_of(config: &Config, name: &str) -> Result<Arc<OauthAccount>, String> {
    let Some(t) = config.targets.iter().find(|t| t.target.name == name) else {
        return Err(format!(
            "no target named {name:?} in {}",
            config.path.display()
        ));
    };
    t.oauth.clone().ok_or_else(|| {
        format!(
            "target {name:?} has no OAuth2 account whose tokens mailbeat keeps (account.oauth with a client_id)"
        )
    })
}

/// What can be said against the command before anything is opened or contacted: an unknown
/// target, a target without an OAuth account, a flow its provider does not allow.
pub fn preflight(config: &Config, command: &OauthCommand) -> Result<(), String> {
    match command {
        OauthCommand::Reauth(args) => {
            let account = account_of(config, &args.target)?;
            super::reauth::check_flow(&args.target, &account, reauth::flow_of(args))
                .map_err(|e| e.to_string())
        }
        OauthCommand::Token(TokenCommand::Import(args)) => {
            account_of(config, &args.target).map(drop)
        }
        OauthCommand::Token(TokenCommand::List(_)) => Ok(()),
    }
}

/// Runs the command; `tokens` has its store attached.
pub async fn run(config: &Config, tokens: &Tokens, command: &OauthCommand) -> Result<(), String> {
    match command {
        OauthCommand::Reauth(args) => reauth::run(config, tokens, args).await,
        OauthCommand::Token(TokenCommand::Import(args)) => import::run(config, tokens, args).await,
        OauthCommand::Token(TokenCommand::List(args)) => list::run(config, tokens, args).await,
    }
}
