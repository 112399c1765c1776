//! `mailbeat demo`: mail servers inside the process, on 127.0.0.1 and ephemeral ports, healthy
//! and broken side by side, and the ordinary agent over a generated config that points at them,
//! so that the status page, `/metrics` and `check` show every kind of failure with its reason
//! and remediation on any machine, without internet.
//!
//! The servers are minimal ([`imap`], [`smtp`], [`idp`], and a silent one in [`conn`]); the
//! probes treat them like any other server, so every reason shown is the one the real probes
//! reach. Certificates come from [`pki`], the config from [`config`].

pub mod accounts;
pub mod config;
pub mod conn;
pub mod idp;
pub mod imap;
pub mod pki;
pub mod smtp;

use self::accounts::Accounts;
use self::config::{Login, Scenario};
use self::pki::{Identity, Pki};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The name every demo certificate is checked against (`tls_server_name`); `.test` is reserved
/// (RFC 2606), so it never means a real host.
pub const SERVER_NAME: &str = "mail.demo.test";

/// What can stop the demo from starting.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot create the demo's directory: {0}")]
    Dir(#[source] std::io::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on 127.0.0.1: {0}")]
    Listen(#[source] std::io::Error),
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    #[error("cannot set up TLS for a demo server: {0}")]
    Tls(#[from] rustls::Error),
    #[error("cannot make the demo's secrets: no system randomness")]
    Random,
}

/// The running demo servers and the files of the generated config. Dropping it stops the
/// servers and removes the files.
pub struct Demo {
    /// The generated config.
    pub config_path: PathBuf,
    /// The targets, in config order.
    pub scenarios: Vec<Scenario>,
    stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// A listener on an ephemeral loopback port.
async fn listen() -> Result<(TcpListener, u16), DemoError> {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(DemoError::Listen)?;
    let port = l.local_addr().map_err(DemoError::Listen)?.port();
    Ok((l, port))
}

fn write(path: &Path, text: &str) -> Result<(), DemoError> {
    std::fs::write(path, text).map_err(|source| DemoError::Write {
        path: path.to_path_buf(),
        source,
    })
}

impl Demo {
    /// Makes the certificates and secrets, starts every server, and writes the config.
    pub async fn start() -> Result<Demo, DemoError> {
        let dir = tempfile::Builder::new()
            .prefix("mailbeat-demo-")
            .tempdir()
            .map_err(DemoError::Dir)?;
        let pki = Pki::generate(SERVER_NAME)?;
        let accounts = Arc::new(Accounts::generate().map_err(|_| DemoError::Random)?);
        let (stop, rx) = watch::channel(false);
        let mut scenarios = Vec::new();
        let mut add = |s: Scenario| scenarios.push(s);

        let imaps = |id: &Identity| -> Result<imap::Imap, DemoError> {
            Ok(imap::Imap {
                tls: imap::Tls::Implicit(conn::acceptor(id)?),
                accounts: accounts.clone(),
            })
        };
        // Each server: a listener, its session handler, and the target that points at it.
        let serve_imap = |l: TcpListener, server: imap::Imap| {
            conn::serve(l, rx.clone(), move |s| server.clone().session(s))
        };
        let serve_smtp = |l: TcpListener, server: smtp::Smtp| {
            conn::serve(l, rx.clone(), move |s| server.clone().session(s))
        };

        let (l, port) = listen().await?;
        serve_imap(l, imaps(&pki.good)?);
        add(Scenario {
            name: "mailbox",
            shows:
                "a healthy IMAP mailbox: implicit TLS (port 993 style), a full chain, LOGIN works",
            protocol: "imap",
            tls: "implicit",
            port,
            provider: None,
            login: Login::Password,
            probes: "[port, tls, auth]",
        });

        let (l, port) = listen().await?;
        serve_imap(
            l,
            imap::Imap {
                tls: imap::Tls::Starttls(conn::acceptor(&pki.good)?),
                accounts: accounts.clone(),
            },
        );
        add(Scenario {
            name: "mailbox-starttls",
            shows: "a healthy IMAP mailbox on STARTTLS (port 143 style)",
            protocol: "imap",
            tls: "starttls",
            port,
            provider: None,
            login: Login::Password,
            probes: "[port, tls, auth]",
        });

        let (l, port) = listen().await?;
        let relay = smtp::Smtp {
            tls: smtp::Tls::Starttls(conn::acceptor(&pki.good)?),
            accounts: accounts.clone(),
            refusal: None,
            name: SERVER_NAME,
        };
        serve_smtp(l, relay.clone());
        add(Scenario {
            name: "relay",
            shows:
                "a healthy SMTP relay: submission with STARTTLS (port 587 style), AUTH PLAIN works",
            protocol: "smtp",
            tls: "starttls",
            port,
            provider: None,
            login: Login::Password,
            probes: "[port, tls, auth]",
        });

        let tls_only = [
            (
                "chain-incomplete",
                &pki.incomplete,
                "a server that sends its certificate without the intermediate that signed it",
            ),
            (
                "cert-expired",
                &pki.expired,
                "a server whose certificate ended a month ago",
            ),
            (
                "wrong-name",
                &pki.wrong_name,
                "a server whose certificate is made out for another host name",
            ),
            (
                "cert-expiring",
                &pki.expiring,
                "a server whose certificate ends in ten days",
            ),
        ];
        for (name, id, shows) in tls_only {
            let (l, port) = listen().await?;
            serve_imap(l, imaps(id)?);
            add(Scenario {
                name,
                shows,
                protocol: "imap",
                tls: "implicit",
                port,
                provider: None,
                login: Login::None,
                probes: "[port, tls]",
            });
        }

        // A port that was open a moment ago and is closed now: nothing listens, the kernel refuses.
        let (l, port) = listen().await?;
        drop(l);
        add(Scenario {
            name: "port-closed",
            shows: "a port where nothing listens (connection refused)",
            protocol: "smtp",
            tls: "starttls",
            port,
            provider: None,
            login: Login::None,
            probes: "[port]",
        });

        let (l, port) = listen().await?;
        conn::serve_silence(l, rx.clone());
        add(Scenario {
            name: "server-hangs",
            shows: "a server that accepts the connection and never greets",
            protocol: "imap",
            tls: "starttls",
            port,
            provider: None,
            login: Login::None,
            probes: "[port]",
        });

        let (l, port) = listen().await?;
        serve_smtp(
            l,
            smtp::Smtp {
                tls: smtp::Tls::Implicit(conn::acceptor(&pki.good)?),
                refusal: Some(smtp::GMAIL_APP_PASSWORD),
                name: "smtp.gmail.demo.test",
                ..relay.clone()
            },
        );
        add(Scenario {
            name: "gmail-app-password",
            shows: "a Gmail-style relay that wants an app password (its exact 534 5.7.9 reply)",
            protocol: "smtp",
            tls: "implicit",
            port,
            provider: Some("gmail"),
            login: Login::Password,
            probes: "[auth]",
        });

        let (l, port) = listen().await?;
        serve_smtp(
            l,
            smtp::Smtp {
                refusal: Some(smtp::M365_SMTP_AUTH_DISABLED),
                name: "smtp.office365.demo.test",
                ..relay.clone()
            },
        );
        add(Scenario {
            name: "m365-smtp-auth-off",
            shows: "a Microsoft 365-style relay whose tenant has SMTP AUTH disabled (535 5.7.139)",
            protocol: "smtp",
            tls: "starttls",
            port,
            provider: Some("office365"),
            login: Login::Password,
            probes: "[auth]",
        });

        let (l, idp_port) = listen().await?;
        idp::Idp {
            accounts: accounts.clone(),
            granted_at: SystemTime::now(),
        }
        .serve(l, rx.clone());
        let (l, port) = listen().await?;
        serve_imap(l, imaps(&pki.good)?);
        add(Scenario {
            name: "oauth-mailbox",
            shows: "an OAuth2 mailbox (XOAUTH2) whose authorization ends in five days",
            protocol: "imap",
            tls: "implicit",
            port,
            provider: None,
            login: Login::OAuth,
            probes: "[token, auth]",
        });

        let path = |name: &str| dir.path().join(name);
        let paths = config::Paths {
            state_dir: &path("state"),
            ca_file: &path("demo-ca.pem"),
            password_file: &path("password"),
            refresh_token_file: &path("refresh-token"),
        };
        write(paths.ca_file, &pki.root_pem)?;
        write(paths.password_file, &accounts.password)?;
        write(paths.refresh_token_file, &accounts.refresh_token)?;
        let yaml = config::render(
            &scenarios,
            SERVER_NAME,
            &accounts.user,
            &accounts.oauth_user,
            &format!("http://127.0.0.1:{idp_port}/token"),
            &paths,
        );
        let config_path = path("mailbeat-demo.yaml");
        write(&config_path, &yaml)?;
        Ok(Demo {
            config_path,
            scenarios,
            stop,
            _dir: dir,
        })
    }
}

/// Logs what the demo serves and where to look, once at start.
pub fn announce(demo: &Demo, listen: &str) {
    for s in &demo.scenarios {
        tracing::info!(
            target_name = s.name,
            port = s.port,
            shows = s.shows,
            "demo server"
        );
    }
    tracing::info!(
        status_page = %format!("http://{listen}/"),
        config = %demo.config_path.display(),
        "demo ready: open the status page; Ctrl-C stops the agent and the demo servers"
    );
}
