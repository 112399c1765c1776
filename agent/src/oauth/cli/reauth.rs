//! `mailbeat reauth TARGET [--device] [--no-browser] [--timeout 5m]`.

use crate::cli::ReauthArgs;
use crate::config::{Config, OauthAccount};
use crate::oauth::classify::{classify, Hint, TokenFailure};
use crate::oauth::endpoint::Endpoint;
use crate::oauth::pkce::{self, Pkce};
use crate::oauth::reauth::listener::Loopback;
use crate::oauth::reauth::{authorize, device, finish, Flow, Stored};
use crate::oauth::Tokens;
use mailbeat_sdk::Secret;
use std::time::Duration;

pub(super) fn flow_of(args: &ReauthArgs) -> Flow {
    if args.device {
        Flow::Device
    } else {
        Flow::Redirect
    }
}

pub(super) async fn run(config: &Config, tokens: &Tokens, args: &ReauthArgs) -> Result<(), String> {
    let account = super::account_of(config, &args.target)?;
    let secret = match &account.client_secret {
        Some(s) => Some(
            s.read()
                .map_err(|e| format!("cannot read the client secret: {e}"))?,
        ),
        None => None,
    };
    let endpoint = Endpoint::new(&account, config.global.timeout)
        .map_err(|f| describe(&account, config, &f))?;
    let session = Session {
        config,
        tokens,
        account: &account,
        endpoint: &endpoint,
        secret: secret.as_ref(),
        args,
    };
    let stored = match flow_of(args) {
        Flow::Redirect => session.redirect().await?,
        Flow::Device => session.device().await?,
    };
    for w in &stored.warnings {
        eprintln!("mailbeat: warning: {w}");
    }
    println!(
        "Stored new tokens for {} (token set {}, account {}).",
        args.target,
        account.token,
        stored.confirmed.as_deref().unwrap_or(&account.username)
    );
    Ok(())
}

struct Session<'a> {
    config: &'a Config,
    tokens: &'a Tokens,
    account: &'a OauthAccount,
    endpoint: &'a Endpoint<'a>,
    secret: Option<&'a Secret>,
    args: &'a ReauthArgs,
}

impl Session<'_> {
    async fn redirect(&self) -> Result<Stored, String> {
        let pkce = Pkce::new().map_err(|e| e.to_string())?;
        let state = pkce::new_state().map_err(|e| e.to_string())?;
        let listener = Loopback::bind()
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1 for the redirect: {e}"))?;
        let redirect_uri = listener.redirect_uri();
        let url = authorize::url(
            self.account,
            authorize::Request {
                redirect_uri: &redirect_uri,
                state: &state,
                challenge: &pkce.challenge,
            },
        )
        .map_err(|e| e.to_string())?;
        println!(
            "Open this URL in a browser and sign in as {}:\n\n  {url}\n",
            self.account.username
        );
        if !self.args.no_browser {
            open_browser(&url);
        }
        println!(
            "Waiting up to {} for the browser to come back to {redirect_uri} ...",
            humantime::format_duration(self.args.timeout)
        );
        let outcome = listener
            .wait(&state, self.args.timeout, |code| async move {
                let r = self.exchange(&code, &pkce.verifier, &redirect_uri).await;
                let line = match &r {
                    Ok(_) => format!("mailbeat stored the new tokens for {}.", self.args.target),
                    Err(e) => e.clone(),
                };
                let ok = r.is_ok();
                (r, (ok, line))
            })
            .await
            .map_err(|e| e.to_string())?;
        outcome
    }

    async fn exchange(
        &self,
        code: &Secret,
        verifier: &Secret,
        redirect_uri: &str,
    ) -> Result<Stored, String> {
        let response = self
            .endpoint
            .exchange_code(code.expose(), verifier.expose(), redirect_uri, self.secret)
            .await
            .map_err(|f| {
                format!(
                    "the code could not be exchanged: {}: nothing stored",
                    describe(self.account, self.config, &f)
                )
            })?;
        finish(self.tokens, self.account, &response)
            .await
            .map_err(|e| e.to_string())
    }

    async fn device(&self) -> Result<Stored, String> {
        let auth = self
            .endpoint
            .device_authorization(&authorize::scopes(self.account), self.secret)
            .await
            .map_err(|f| {
                format!(
                    "the device authorization endpoint refused: {}",
                    describe(self.account, self.config, &f)
                )
            })?;
        println!(
            "To sign in as {}, open this page on any device:\n",
            self.account.username
        );
        println!("  Open: {}", auth.verification_uri);
        println!("  Code: {}\n", auth.user_code);
        if let Some(m) = &auth.message {
            println!("{}\n", m.trim());
        }
        let expires_in = Duration::from_secs(auth.expires_in);
        println!(
            "Waiting up to {} (the code expires in {}) ...",
            humantime::format_duration(self.args.timeout.min(expires_in)),
            humantime::format_duration(expires_in)
        );
        let provider = self.account.provider;
        let locale = self.config.global.locale;
        let response = device::poll_until(
            Duration::from_secs(auth.interval),
            expires_in,
            self.args.timeout,
            || async {
                let answer = self
                    .endpoint
                    .poll_device(&auth.device_code, self.secret)
                    .await;
                device::judge(provider, answer, locale)
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        finish(self.tokens, self.account, &response)
            .await
            .map_err(|e| e.to_string())
    }
}

fn describe(account: &OauthAccount, config: &Config, f: &TokenFailure) -> String {
    classify(account.provider, f, Hint::default(), config.global.locale).message
}

/// Tries to open `url` in the desktop's browser; never fails the command. Only with a display:
/// without one `xdg-open` may start a text browser on this very terminal.
fn open_browser(url: &str) {
    let display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    if !display {
        return;
    }
    match std::process::Command::new("xdg-open")
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        // Reaped in the background; the command does not wait for the browser.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => eprintln!("mailbeat: could not start a browser ({e}); open the URL yourself"),
    }
}
