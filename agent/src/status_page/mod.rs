//! The status page at `/`: a summary of the targets by status, then every target with its
//! checks, the worst first; each failure with its reason in words, the server's own message and
//! the remediation folded under it; certificate days, alerts, and when an OAuth2 account needs
//! re-authorizing. Plain HTML and CSS, no scripts; it reloads itself.
//!
//! [`model`] builds what the page shows from the store; [`html`] renders it; [`words`] holds the
//! reasons in plain words and hides secret-shaped text.

pub mod html;
pub mod model;
pub mod words;

pub use html::esc;

use crate::app::App;
use std::time::SystemTime;

/// Renders the page for the running agent.
pub fn render(app: &App) -> String {
    let config = app.config();
    let page = model::build(
        &config,
        &app.store,
        app.services.alerts.alerts(),
        SystemTime::now(),
    );
    html::render(&page)
}

#[cfg(test)]
mod tests;
