//! A minimal SMTP submission server: enough of RFC 5321/3207/4954 for the port, tls and auth
//! probes (greeting, `EHLO`, `STARTTLS`, `AUTH PLAIN`/`LOGIN`, `NOOP`, `RSET`, `QUIT`). It
//! accepts no mail. A server may be set to refuse every login with a provider's exact words.

use super::accounts::{decode_b64, decode_plain, Accounts};
use super::conn::Conn;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// Gmail's refusal of an account's normal password once 2-Step Verification is on (the wire form
/// of the reply quoted in `plugins/probes/src/classify/tests.rs`).
pub const GMAIL_APP_PASSWORD: &str = "534-5.7.9 Application-specific password required. Learn more at\r\n534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor d75a77b69052e-4a5b3c1f2e1sm1234567qtb.7 - gsmtp\r\n";

/// Microsoft 365's refusal when SMTP AUTH is off for the tenant.
pub const M365_SMTP_AUTH_DISABLED: &str = "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. [DM6PR02CA0061.namprd02.prod.outlook.com 2026-12-01T09:00:00.000Z 08DD1234ABCD5678]\r\n";

/// How a demo SMTP server speaks TLS.
#[derive(Clone)]
pub enum Tls {
    /// Port 465 style.
    Implicit(TlsAcceptor),
    /// Port 587 style: AUTH is offered only after `STARTTLS`.
    Starttls(TlsAcceptor),
}

/// One SMTP server's setup.
#[derive(Clone)]
pub struct Smtp {
    pub tls: Tls,
    pub accounts: Arc<Accounts>,
    /// When set, every login is answered with this reply (CRLF-ended lines), whatever the
    /// credentials.
    pub refusal: Option<&'static str>,
    /// The name the server greets with.
    pub name: &'static str,
}

impl Smtp {
    /// Serves one connection to its end.
    pub async fn session(self, stream: TcpStream) {
        let implicit = match &self.tls {
            Tls::Implicit(a) => Some(a),
            Tls::Starttls(_) => None,
        };
        let Some(mut conn) = Conn::accept(stream, implicit).await else {
            return;
        };
        if !conn
            .send_line(&format!("220 {} ESMTP mailbeat demo", self.name))
            .await
        {
            return;
        }
        while let Some(line) = conn.line().await {
            let (verb, rest) = line.split_once(' ').unwrap_or((&line, ""));
            let reply = match verb.to_ascii_uppercase().as_str() {
                "EHLO" => self.ehlo(conn.tls),
                "HELO" => format!("250 {}\r\n", self.name),
                "NOOP" | "RSET" => "250 2.0.0 OK\r\n".to_string(),
                "QUIT" => {
                    conn.send_line("221 2.0.0 Bye").await;
                    return;
                }
                "STARTTLS" => match (&self.tls, conn.tls) {
                    (Tls::Starttls(acceptor), false) => {
                        if !conn.send_line("220 2.0.0 Ready to start TLS").await {
                            return;
                        }
                        match conn.start_tls(acceptor).await {
                            Some(upgraded) => conn = upgraded,
                            None => return,
                        }
                        continue;
                    }
                    _ => "503 5.5.1 STARTTLS not available now\r\n".to_string(),
                },
                "AUTH" if !conn.tls => "530 5.7.0 Must issue a STARTTLS command first\r\n".into(),
                "AUTH" => match self.auth(&mut conn, rest).await {
                    Some(reply) => reply,
                    None => return,
                },
                "MAIL" | "RCPT" | "DATA" => {
                    "502 5.5.1 The mailbeat demo accepts no mail\r\n".to_string()
                }
                _ => "500 5.5.2 Unknown command\r\n".to_string(),
            };
            if !conn.send(&reply).await {
                return;
            }
        }
    }

    fn ehlo(&self, tls: bool) -> String {
        let mut lines = vec![
            self.name.to_string(),
            "PIPELINING".into(),
            "SIZE 35882577".into(),
        ];
        match (&self.tls, tls) {
            (Tls::Starttls(_), false) => lines.push("STARTTLS".into()),
            _ => lines.push("AUTH PLAIN LOGIN".into()),
        }
        lines.push("ENHANCEDSTATUSCODES".into());
        lines.push("8BITMIME".into());
        let last = lines.len() - 1;
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("250{}{l}\r\n", if i == last { ' ' } else { '-' }))
            .collect()
    }

    /// `AUTH PLAIN [ir]` or `AUTH LOGIN`: the final reply, or `None` when the client went away.
    async fn auth(&self, conn: &mut Conn, rest: &str) -> Option<String> {
        let mut args = rest.split_whitespace();
        let mechanism = args.next().unwrap_or("").to_ascii_uppercase();
        let initial = args.next().map(str::to_string);
        let credentials = match mechanism.as_str() {
            "PLAIN" => {
                let response = match initial {
                    Some(ir) => ir,
                    None => ask(conn, "334 ").await?,
                };
                if response == "*" {
                    return Some("501 5.7.0 Authentication cancelled\r\n".into());
                }
                decode_plain(&response)
            }
            "LOGIN" => {
                let user = ask(conn, "334 VXNlcm5hbWU6").await?;
                if user == "*" {
                    return Some("501 5.7.0 Authentication cancelled\r\n".into());
                }
                let pass = ask(conn, "334 UGFzc3dvcmQ6").await?;
                if pass == "*" {
                    return Some("501 5.7.0 Authentication cancelled\r\n".into());
                }
                decode_b64(&user).zip(decode_b64(&pass))
            }
            _ => return Some("504 5.5.4 Unrecognized authentication type\r\n".into()),
        };
        if let Some(refusal) = self.refusal {
            return Some(refusal.to_string());
        }
        Some(match credentials {
            Some((u, p)) if self.accounts.password_ok(&u, &p) => {
                "235 2.7.0 Authentication successful\r\n".into()
            }
            _ => "535 5.7.8 Authentication credentials invalid\r\n".into(),
        })
    }
}

/// Sends a 334 challenge and reads the client's answer.
async fn ask(conn: &mut Conn, challenge: &str) -> Option<String> {
    if !conn.send_line(challenge).await {
        return None;
    }
    conn.line().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusals_are_well_formed_smtp_replies() {
        for reply in [GMAIL_APP_PASSWORD, M365_SMTP_AUTH_DISABLED] {
            let lines: Vec<&str> = reply.split_terminator("\r\n").collect();
            let last = lines.len() - 1;
            for (i, l) in lines.iter().enumerate() {
                let sep = if i == last { ' ' } else { '-' };
                assert_eq!(l.as_bytes()[3] as char, sep, "{l}");
            }
        }
    }
}
