//! A minimal IMAP server: enough of RFC 9051/3501 for the port, tls and auth probes (greeting,
//! `CAPABILITY`, `STARTTLS`, `LOGIN`, `AUTHENTICATE PLAIN`/`XOAUTH2` with SASL-IR, `EXAMINE`,
//! `NOOP`, `LOGOUT`). It holds no mail.

use super::accounts::{b64, decode_plain, decode_xoauth2, Accounts};
use super::conn::Conn;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// How a demo IMAP server speaks TLS.
#[derive(Clone)]
pub enum Tls {
    /// Port 993 style: TLS from the first byte.
    Implicit(TlsAcceptor),
    /// Port 143 style: plain text until `STARTTLS`; login only after it.
    Starttls(TlsAcceptor),
}

/// One IMAP server's setup.
#[derive(Clone)]
pub struct Imap {
    pub tls: Tls,
    pub accounts: Arc<Accounts>,
}

/// The error challenge of a refused XOAUTH2 token, as Gmail sends it.
const XOAUTH2_ERROR: &str =
    r#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#;

impl Imap {
    /// Serves one connection to its end.
    pub async fn session(self, stream: TcpStream) {
        let implicit = match &self.tls {
            Tls::Implicit(a) => Some(a),
            Tls::Starttls(_) => None,
        };
        let Some(mut conn) = Conn::accept(stream, implicit).await else {
            return;
        };
        let greeting = format!(
            "* OK [CAPABILITY {}] mailbeat demo IMAP server ready",
            self.capabilities(conn.tls)
        );
        if !conn.send_line(&greeting).await {
            return;
        }
        let mut logged_in = false;
        while let Some(line) = conn.line().await {
            let mut words = line.splitn(3, ' ');
            let tag = words.next().unwrap_or("*").to_string();
            let command = words.next().unwrap_or("").to_ascii_uppercase();
            let rest = words.next().unwrap_or("").to_string();
            let reply = match command.as_str() {
                "CAPABILITY" => format!(
                    "* CAPABILITY {}\r\n{tag} OK CAPABILITY completed\r\n",
                    self.capabilities(conn.tls)
                ),
                "NOOP" => format!("{tag} OK NOOP completed\r\n"),
                "LOGOUT" => {
                    let bye = format!("* BYE mailbeat demo logging out\r\n{tag} OK LOGOUT completed\r\n");
                    conn.send(&bye).await;
                    return;
                }
                "STARTTLS" => match (&self.tls, conn.tls) {
                    (Tls::Starttls(acceptor), false) => {
                        if !conn.send_line(&format!("{tag} OK Begin TLS negotiation now")).await {
                            return;
                        }
                        match conn.start_tls(acceptor).await {
                            Some(upgraded) => conn = upgraded,
                            None => return,
                        }
                        continue;
                    }
                    _ => format!("{tag} BAD STARTTLS not available now\r\n"),
                },
                "LOGIN" if !conn.tls => {
                    format!("{tag} NO [PRIVACYREQUIRED] Use STARTTLS first\r\n")
                }
                "LOGIN" => match quoted_pair(&rest) {
                    Some((u, p)) if self.accounts.password_ok(&u, &p) => {
                        logged_in = true;
                        format!("{tag} OK Logged in\r\n")
                    }
                    _ => format!("{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
                },
                "AUTHENTICATE" => {
                    let Some(reply) = self.authenticate(&mut conn, &tag, &rest).await else {
                        return;
                    };
                    logged_in = reply.contains(" OK ");
                    reply
                }
                "EXAMINE" | "SELECT" if logged_in => format!(
                    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* 0 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1] UIDs valid\r\n{tag} OK [READ-ONLY] {command} completed\r\n"
                ),
                "EXAMINE" | "SELECT" => format!("{tag} BAD Log in first\r\n"),
                _ => format!("{tag} BAD Unknown command\r\n"),
            };
            if !conn.send(&reply).await {
                return;
            }
        }
    }

    fn capabilities(&self, tls: bool) -> &'static str {
        match (&self.tls, tls) {
            (Tls::Starttls(_), false) => "IMAP4rev1 STARTTLS LOGINDISABLED",
            _ => "IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2",
        }
    }

    /// `AUTHENTICATE PLAIN|XOAUTH2 [initial response]`: the tagged completion, or `None` when
    /// the client went away.
    async fn authenticate(&self, conn: &mut Conn, tag: &str, rest: &str) -> Option<String> {
        if !conn.tls {
            return Some(format!("{tag} NO [PRIVACYREQUIRED] Use STARTTLS first\r\n"));
        }
        let mut args = rest.split_whitespace();
        let mechanism = args.next().unwrap_or("").to_ascii_uppercase();
        if mechanism != "PLAIN" && mechanism != "XOAUTH2" {
            return Some(format!("{tag} NO Unsupported authentication mechanism\r\n"));
        }
        let response = match args.next() {
            Some(ir) => ir.to_string(),
            None => {
                if !conn.send_line("+ ").await {
                    return None;
                }
                conn.line().await?
            }
        };
        if response == "*" {
            return Some(format!("{tag} BAD Authentication cancelled\r\n"));
        }
        let ok = if mechanism == "PLAIN" {
            decode_plain(&response).is_some_and(|(u, p)| self.accounts.password_ok(&u, &p))
        } else {
            let ok =
                decode_xoauth2(&response).is_some_and(|(u, t)| self.accounts.bearer_ok(&u, &t));
            if !ok {
                // The error challenge first; the client answers it with an empty line.
                if !conn.send_line(&format!("+ {}", b64(XOAUTH2_ERROR))).await {
                    return None;
                }
                conn.line().await?;
            }
            ok
        };
        Some(match ok {
            true => format!("{tag} OK Logged in\r\n"),
            false => format!("{tag} NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n"),
        })
    }
}

/// The two arguments of `LOGIN`: quoted strings (with `\\` and `\"` escapes) or atoms.
fn quoted_pair(rest: &str) -> Option<(String, String)> {
    let (user, rest) = astring(rest.trim_start())?;
    let (pass, _) = astring(rest.trim_start())?;
    Some((user, pass))
}

/// One IMAP astring at the start of `s`, and what follows it.
fn astring(s: &str) -> Option<(String, &str)> {
    if let Some(body) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?.1),
                '"' => return Some((out, &body[i + 1..])),
                c => out.push(c),
            }
        }
        None
    } else {
        let end = s.find(' ').unwrap_or(s.len());
        (end > 0).then(|| (s[..end].to_string(), &s[end..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_arguments_are_read_quoted_or_bare() {
        assert_eq!(
            quoted_pair(r#""alice@demo.test" "p\"w\\x""#),
            Some(("alice@demo.test".into(), r#"p"w\x"#.into()))
        );
        assert_eq!(quoted_pair("alice pw"), Some(("alice".into(), "pw".into())));
        assert_eq!(quoted_pair(r#""unterminated"#), None);
        assert_eq!(quoted_pair(""), None);
    }
}
