//! OAuth2 accounts: the token store, the token endpoint client, the classification of its
//! answers, the predicted end of a refresh token, the `token` probe and re-authorization.

pub mod classify;
pub mod provider;

pub use provider::{default_scopes, Endpoints, ProviderKind};
