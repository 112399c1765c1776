//! OAuth2 accounts: the token store, the token endpoint client, the classification of its
//! answers, the predicted end of a refresh token, the `token` probe and re-authorization.

pub mod classify;
pub mod cli;
pub mod endpoint;
pub mod pkce;
pub mod predict;
pub mod probe;
pub mod provider;
pub mod reauth;
pub mod seal;
pub mod tokens;

pub use provider::{default_scopes, Endpoints, ProviderKind};
pub use tokens::Tokens;

use crate::config::Config;
use crate::state::tokens::{TokenStore, TokenStoreError};
use crate::state::StateDb;
use std::sync::Arc;

/// Why the token store of a configuration could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenStoreError {
    #[error("cannot read the state key: {0}")]
    Key(#[from] crate::config::SecretError),
    #[error(transparent)]
    Store(#[from] TokenStoreError),
}

/// The token store in `db`, sealed with the configuration's `state_key_file` when it has one.
/// Blocking.
pub fn open_store(db: Arc<StateDb>, config: &Config) -> Result<TokenStore, OpenStoreError> {
    let sealer = match &config.global.state_key {
        Some(source) => seal::Sealer::with_key(source.read()?.expose().as_bytes()),
        None => seal::Sealer::plaintext(),
    };
    Ok(TokenStore::open(db, sealer)?)
}
