//! The short plaintext dialogues every mail protocol starts with: greeting, capabilities
//! (EHLO / CAPABILITY / CAPA) and the STARTTLS upgrade (STARTTLS / STLS).
//!
//! Written once here and used by the port, tls and auth probes. Every read is bounded in time (the
//! check's deadline) and in size (a babbling peer cannot make us buffer without limit), and server
//! bytes are never trusted to be UTF-8.

use crate::classify::{classify_greeting, Greeting};
use crate::net::within_named;
use crate::Failure;
use mailbeat_sdk::{ProbeContext, Protocol, Reason};
use std::fmt::Debug;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// Longest line accepted from a server.
pub const MAX_LINE: usize = 16 * 1024;
/// Most lines accepted in one multi-line reply (EHLO, CAPA).
pub const MAX_LINES: usize = 500;

/// The dialogue's read buffer. A greeting or a capability list is a few hundred bytes; a longer
/// reply is read in more than one go. Under 1 KiB on purpose: tokio's default (8 KiB) is, for
/// glibc, a "large" allocation on every dialogue (two per STARTTLS check), which bypasses the
/// per-thread cache and makes malloc consolidate its free lists each time.
const READ_BUFFER: usize = 1000;

/// A byte stream a dialogue or a protocol client can run over: TCP, or TLS over TCP.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Stream for T {}

/// A boxed [`Stream`], so plain and TLS connections can be handed on alike.
pub type BoxStream = Box<dyn Stream>;

/// A line-oriented conversation with a server.
#[derive(Debug)]
pub struct Dialogue<S> {
    io: BufReader<S>,
}

/// An SMTP reply: the code and the text of each line without the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpReply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl SmtpReply {
    /// All lines joined with `\n`: the form the classifier reads.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

impl std::fmt::Display for SmtpReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.lines.join(" / "))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Dialogue<S> {
    pub fn new(stream: S) -> Self {
        Dialogue {
            io: BufReader::with_capacity(READ_BUFFER, stream),
        }
    }

    /// Reads one line (without CR LF). End of stream, an over-long line or silence past the
    /// deadline is a failure that names `what` we were waiting for.
    pub async fn read_line(&mut self, ctx: &ProbeContext, what: &str) -> Result<String, Failure> {
        let mut buf = Vec::with_capacity(128);
        let mut limited = (&mut self.io).take(MAX_LINE as u64);
        let read = limited.read_until(b'\n', &mut buf);
        let n = within_named(ctx, Reason::ServerTimeout, read, || {
            format!("waiting for {what}")
        })
        .await?
        .map_err(|e| {
            Failure::critical(
                Reason::ProtocolError,
                format!("connection failed while waiting for {what}: {e}"),
            )
        })?;
        if n == 0 {
            return Err(Failure::critical(
                Reason::ProtocolError,
                format!("connection closed by the server while waiting for {what}"),
            ));
        }
        if buf.last() != Some(&b'\n') && n >= MAX_LINE {
            return Err(Failure::critical(
                Reason::ProtocolError,
                format!("line longer than {MAX_LINE} bytes while waiting for {what}"),
            ));
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        // Servers speak ASCII: the buffer becomes the line without a copy, unless it is not UTF-8.
        Ok(String::from_utf8(buf)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    /// Sends one command line (CR LF added), naming it `verb` in errors ("timed out sending
    /// EHLO"). `verb` is said as given, so pass the command word, never a line that may carry a
    /// secret.
    pub async fn send_command(
        &mut self,
        ctx: &ProbeContext,
        line: &str,
        verb: &str,
    ) -> Result<(), Failure> {
        let io = self.io.get_mut();
        // One write: over TLS each write is a record of its own, and on the wire a segment.
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        let write = async {
            io.write_all(&bytes).await?;
            io.flush().await
        };
        within_named(ctx, Reason::ServerTimeout, write, || {
            format!("sending {verb}")
        })
        .await?
        .map_err(|e| {
            Failure::critical(
                Reason::ProtocolError,
                format!("connection failed while sending {verb}: {e}"),
            )
        })
    }

    /// Sends one line (CR LF added). Errors call it "a command" and never quote any part of it,
    /// since a line can carry credentials (a bare SASL response, LOGIN, PASS); use
    /// [`Dialogue::send_command`] to name the command.
    pub async fn send(&mut self, ctx: &ProbeContext, line: &str) -> Result<(), Failure> {
        self.send_command(ctx, line, "a command").await
    }

    /// Reads a complete (possibly multi-line) SMTP reply.
    pub async fn smtp_reply(
        &mut self,
        ctx: &ProbeContext,
        what: &str,
    ) -> Result<SmtpReply, Failure> {
        let mut code = None;
        let mut lines = Vec::new();
        loop {
            let mut line = self.read_line(ctx, what).await?;
            let (this_code, last, text) = parse_smtp_line(&line).ok_or_else(|| {
                Failure::critical(
                    Reason::ProtocolError,
                    format!(
                        "not an SMTP reply while waiting for {what}: {}",
                        printable(&line)
                    ),
                )
            })?;
            if *code.get_or_insert(this_code) != this_code {
                return Err(Failure::critical(
                    Reason::ProtocolError,
                    format!("SMTP reply changed code mid-reply: {}", printable(&line)),
                ));
            }
            // The text is the line's tail: cut the code off in place rather than copy the text.
            let code_len = line.len() - text.len();
            line.drain(..code_len);
            lines.push(line);
            if last {
                return Ok(SmtpReply {
                    code: this_code,
                    lines,
                });
            }
            if lines.len() >= MAX_LINES {
                return Err(Failure::critical(
                    Reason::ProtocolError,
                    format!("SMTP reply longer than {MAX_LINES} lines"),
                ));
            }
        }
    }

    /// Reads IMAP lines until the tagged completion for `tag`; returns the untagged lines and the
    /// tagged status line (`OK …`, `NO …`, `BAD …`) without the tag.
    pub async fn imap_tagged(
        &mut self,
        ctx: &ProbeContext,
        tag: &str,
        what: &str,
    ) -> Result<(Vec<String>, String), Failure> {
        let mut untagged = Vec::new();
        let prefix = format!("{tag} ");
        for _ in 0..MAX_LINES {
            let line = self.read_line(ctx, what).await?;
            if let Some(rest) = line.strip_prefix(&prefix) {
                return Ok((untagged, rest.to_string()));
            }
            untagged.push(line);
        }
        Err(Failure::critical(
            Reason::ProtocolError,
            format!("no tagged reply within {MAX_LINES} lines while waiting for {what}"),
        ))
    }

    /// Hands back the stream, for the client to speak next. Bytes the server sent ahead of the
    /// client would be lost (or, under TLS, read as the answer to what the client says next), so
    /// any buffered data is a protocol error.
    pub fn into_inner(self) -> Result<S, Failure> {
        self.into_inner_or("server sent data before the client spoke")
    }

    /// Hands back the stream for the TLS handshake after STARTTLS. Bytes the server sent ahead
    /// of the handshake would be read as if they came over TLS (the STARTTLS command injection
    /// class of bugs), so any buffered data is a protocol error.
    pub fn into_inner_for_tls(self) -> Result<S, Failure> {
        self.into_inner_or(
            "server sent data before the TLS handshake (possible STARTTLS injection)",
        )
    }

    fn into_inner_or(self, message: &str) -> Result<S, Failure> {
        if !self.io.buffer().is_empty() {
            return Err(Failure::critical(Reason::ProtocolError, message));
        }
        Ok(self.io.into_inner())
    }
}

/// Splits `250-text` / `250 text` into (code, is_last_line, text).
pub fn parse_smtp_line(line: &str) -> Option<(u16, bool, &str)> {
    let bytes = line.as_bytes();
    if bytes.len() < 3 || !bytes[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code: u16 = line[..3].parse().ok()?;
    match bytes.get(3) {
        None => Some((code, true, "")),
        Some(b' ') => Some((code, true, &line[4..])),
        Some(b'-') => Some((code, false, &line[4..])),
        _ => None,
    }
}

/// Server text made safe for a message: control characters escaped, length capped.
pub fn printable(text: &str) -> String {
    const MAX: usize = 300;
    let mut out: String = text
        .chars()
        .take(MAX)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    out
}

/// Reads the server greeting. Silence is `server_timeout`; a refusal in its place (SMTP 4xx/5xx,
/// IMAP `* BYE` or `* NO`, POP3 `-ERR`) is what [`classify_greeting`] reads in the server's words
/// (`rate_limited` for a limit on this client, `server_unavailable` for a server that turns
/// everyone away, `bad_greeting` for an IMAP `* NO` it does not know), with those words in the
/// message; anything else that is not a greeting of this protocol is `bad_greeting`.
pub async fn greeting<S: AsyncRead + AsyncWrite + Unpin>(
    d: &mut Dialogue<S>,
    protocol: Protocol,
    ctx: &ProbeContext,
) -> Result<String, Failure> {
    let what = "the server greeting (the server accepted the connection but said nothing)";
    let bad = |text: &str| {
        Failure::critical(
            Reason::BadGreeting,
            format!(
                "expected a {} greeting, got: {}",
                protocol.as_str().to_uppercase(),
                printable(text)
            ),
        )
    };
    let closed = |f: Failure| {
        if f.reason == Reason::ProtocolError {
            Failure::critical(Reason::BadGreeting, f.message)
        } else {
            f
        }
    };
    match protocol {
        Protocol::Smtp => {
            let reply = d.smtp_reply(ctx, what).await.map_err(closed)?;
            match reply.code {
                220 => Ok(reply.to_string()),
                400..=599 => {
                    let text = reply.text();
                    let refusal = Greeting::Smtp {
                        code: reply.code,
                        text: &text,
                    };
                    Err(refused(&refusal, &reply.to_string()))
                }
                _ => Err(bad(&reply.to_string())),
            }
        }
        Protocol::Imap => {
            let line = d.read_line(ctx, what).await.map_err(closed)?;
            if line.starts_with("* OK") || line.starts_with("* PREAUTH") {
                Ok(line)
            } else if let Some(text) = after_word(&line, "* BYE") {
                Err(refused(&Greeting::ImapBye { text }, &line))
            } else if let Some(text) = after_word(&line, "* NO") {
                Err(refused(&Greeting::ImapNo { text }, &line))
            } else {
                Err(bad(&line))
            }
        }
        Protocol::Pop3 => {
            let line = d.read_line(ctx, what).await.map_err(closed)?;
            if line.starts_with("+OK") {
                Ok(line)
            } else if let Some(text) = after_word(&line, "-ERR") {
                Err(refused(&Greeting::Pop3 { text }, &line))
            } else {
                Err(bad(&line))
            }
        }
    }
}

/// A refusal in place of the greeting, classified from the server's words, which the message
/// keeps.
fn refused(greeting: &Greeting<'_>, shown: &str) -> Failure {
    let verdict = classify_greeting(greeting);
    Failure::new(
        verdict.status,
        verdict.reason,
        format!("server refused the session: {}", printable(shown)),
    )
}

/// The text after a status word that opens the line (`* BYE`, `* NO`, `-ERR`): `Some("")` for
/// the bare word, `None` when the line starts with something else (`* NOTE` is not `* NO`).
fn after_word<'a>(line: &'a str, word: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(word)?;
    if rest.is_empty() {
        return Some(rest);
    }
    rest.strip_prefix(' ').map(str::trim_start)
}

/// Asks for the server's capabilities: SMTP `EHLO` (extension lines), IMAP `CAPABILITY` (atoms),
/// POP3 `CAPA` (lines; an empty list when the server does not know CAPA).
pub async fn capabilities<S: AsyncRead + AsyncWrite + Unpin>(
    d: &mut Dialogue<S>,
    protocol: Protocol,
    ctx: &ProbeContext,
) -> Result<Vec<String>, Failure> {
    match protocol {
        Protocol::Smtp => {
            let ehlo = format!("EHLO {}", ctx.ehlo_name);
            d.send_command(ctx, &ehlo, "EHLO").await?;
            let reply = d.smtp_reply(ctx, "the EHLO reply").await?;
            if reply.code != 250 {
                return Err(Failure::critical(
                    Reason::ProtocolError,
                    format!("EHLO refused: {}", printable(&reply.to_string())),
                ));
            }
            Ok(reply.lines.into_iter().skip(1).collect())
        }
        Protocol::Imap => {
            d.send_command(ctx, "c1 CAPABILITY", "CAPABILITY").await?;
            let (untagged, status) = d.imap_tagged(ctx, "c1", "the CAPABILITY reply").await?;
            if !status.starts_with("OK") {
                return Err(Failure::critical(
                    Reason::ProtocolError,
                    format!("CAPABILITY refused: {}", printable(&status)),
                ));
            }
            Ok(untagged
                .iter()
                .filter_map(|l| l.strip_prefix("* CAPABILITY "))
                .flat_map(|l| l.split_whitespace().map(str::to_string))
                .collect())
        }
        Protocol::Pop3 => {
            d.send_command(ctx, "CAPA", "CAPA").await?;
            let first = d.read_line(ctx, "the CAPA reply").await?;
            if !first.starts_with("+OK") {
                return Ok(Vec::new());
            }
            let mut caps = Vec::new();
            loop {
                let line = d.read_line(ctx, "the CAPA list").await?;
                if line == "." {
                    return Ok(caps);
                }
                if caps.len() >= MAX_LINES {
                    return Err(Failure::critical(
                        Reason::ProtocolError,
                        format!("CAPA list longer than {MAX_LINES} lines"),
                    ));
                }
                caps.push(line);
            }
        }
    }
}

/// True when the capability list offers the STARTTLS upgrade of this protocol.
pub fn offers_starttls(protocol: Protocol, caps: &[String]) -> bool {
    let word = match protocol {
        Protocol::Pop3 => "STLS",
        Protocol::Smtp | Protocol::Imap => "STARTTLS",
    };
    caps.iter().any(|c| {
        c.split_whitespace()
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case(word))
    })
}

/// After the greeting: asks for capabilities, checks STARTTLS is offered and asks for it. Returns
/// the raw stream, ready for the TLS handshake, and the pre-TLS capabilities.
pub async fn starttls<S: AsyncRead + AsyncWrite + Unpin>(
    mut d: Dialogue<S>,
    protocol: Protocol,
    ctx: &ProbeContext,
) -> Result<(S, Vec<String>), Failure> {
    let caps = capabilities(&mut d, protocol, ctx).await?;
    // POP3 servers that do not implement CAPA may still implement STLS: try it.
    let unknown = protocol == Protocol::Pop3 && caps.is_empty();
    if !unknown && !offers_starttls(protocol, &caps) {
        return Err(Failure::critical(
            Reason::StarttlsNotOffered,
            format!(
                "the server does not offer {} (capabilities: {})",
                if protocol == Protocol::Pop3 {
                    "STLS"
                } else {
                    "STARTTLS"
                },
                printable(&caps.join(", "))
            ),
        ));
    }
    let refused = |reason: Reason, text: &str| {
        Failure::critical(
            reason,
            format!("the server refused STARTTLS: {}", printable(text)),
        )
    };
    match protocol {
        Protocol::Smtp => {
            d.send_command(ctx, "STARTTLS", "STARTTLS").await?;
            let reply = d.smtp_reply(ctx, "the STARTTLS reply").await?;
            match reply.code {
                220 => {}
                // 454 4.7.0 "TLS not available due to temporary reason" (RFC 3207), or 421: the
                // server says it cannot now, which is an unavailable server, not a confused one.
                // Still critical: nothing can be sent safely until it can.
                400..=499 => {
                    return Err(refused(Reason::ServerUnavailable, &reply.to_string()));
                }
                _ => return Err(refused(Reason::ProtocolError, &reply.to_string())),
            }
        }
        Protocol::Imap => {
            d.send_command(ctx, "s1 STARTTLS", "STARTTLS").await?;
            let (_, status) = d.imap_tagged(ctx, "s1", "the STARTTLS reply").await?;
            if !status.starts_with("OK") {
                // IMAP NO/BAD do not say whether it is temporary.
                return Err(refused(Reason::ProtocolError, &status));
            }
        }
        Protocol::Pop3 => {
            d.send_command(ctx, "STLS", "STLS").await?;
            let line = d.read_line(ctx, "the STLS reply").await?;
            if !line.starts_with("+OK") {
                let reason = if unknown {
                    Reason::StarttlsNotOffered
                } else {
                    Reason::ProtocolError
                };
                return Err(Failure::critical(
                    reason,
                    format!("the server refused STLS: {}", printable(&line)),
                ));
            }
        }
    }
    Ok((d.into_inner_for_tls()?, caps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_lines_parse() {
        assert_eq!(
            parse_smtp_line("250-PIPELINING"),
            Some((250, false, "PIPELINING"))
        );
        assert_eq!(parse_smtp_line("250 OK"), Some((250, true, "OK")));
        assert_eq!(parse_smtp_line("220"), Some((220, true, "")));
        assert_eq!(parse_smtp_line("22"), None);
        assert_eq!(parse_smtp_line("abc def"), None);
        assert_eq!(parse_smtp_line("250x"), None);
        assert_eq!(parse_smtp_line("2é0 x"), None);
    }

    #[test]
    fn starttls_offer_is_read_from_capabilities() {
        let caps = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(offers_starttls(
            Protocol::Smtp,
            &caps(&["PIPELINING", "STARTTLS"])
        ));
        assert!(offers_starttls(
            Protocol::Imap,
            &caps(&["IMAP4rev1", "starttls"])
        ));
        assert!(offers_starttls(Protocol::Pop3, &caps(&["USER", "STLS"])));
        assert!(!offers_starttls(Protocol::Pop3, &caps(&["STARTTLS"])));
        assert!(!offers_starttls(Protocol::Smtp, &caps(&["AUTH PLAIN"])));
    }

    fn ctx() -> ProbeContext {
        let roots = std::sync::Arc::new(rustls::RootCertStore::empty());
        ProbeContext::new(std::time::Duration::from_secs(2), roots)
    }

    #[tokio::test]
    async fn send_never_quotes_the_line_and_send_command_names_the_verb() {
        // A base64 password looks like a command word; it must not show up in an error.
        let secret = "QUFBQUFB"; // base64 of "AAAAAA": all letters, like a command word
        let (ours, theirs) = tokio::io::duplex(64);
        drop(theirs);
        let mut d = Dialogue::new(ours);
        let f = d.send(&ctx(), secret).await.unwrap_err();
        assert!(!f.message.contains(secret), "{}", f.message);
        assert!(f.message.contains("sending a command"), "{}", f.message);

        let (ours, theirs) = tokio::io::duplex(64);
        drop(theirs);
        let mut d = Dialogue::new(ours);
        let f = d
            .send_command(&ctx(), "USER someone@example.test", "USER")
            .await
            .unwrap_err();
        assert!(f.message.contains("sending USER"), "{}", f.message);
        assert!(!f.message.contains("someone"), "{}", f.message);
    }

    #[tokio::test]
    async fn smtp_454_to_starttls_is_server_unavailable() {
        let (ours, mut theirs) = tokio::io::duplex(4096);
        let server = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let _ = theirs.read(&mut buf).await; // EHLO
            let ehlo = b"250-mail.test\r\n250 STARTTLS\r\n";
            theirs.write_all(ehlo).await.unwrap();
            let _ = theirs.read(&mut buf).await; // STARTTLS
            let refusal = b"454 4.7.0 TLS not available due to local problem\r\n";
            theirs.write_all(refusal).await.unwrap();
            theirs
        });
        let f = starttls(Dialogue::new(ours), Protocol::Smtp, &ctx())
            .await
            .unwrap_err();
        assert_eq!(f.reason, Reason::ServerUnavailable, "{}", f.message);
        assert!(f.message.contains("454 4.7.0"), "{}", f.message);
        drop(server.await);
    }

    #[test]
    fn a_status_word_opens_the_line_or_does_not() {
        assert_eq!(after_word("* BYE", "* BYE"), Some(""));
        assert_eq!(after_word("* BYE  bye now", "* BYE"), Some("bye now"));
        assert_eq!(
            after_word("* NO [UNAVAILABLE] x", "* NO"),
            Some("[UNAVAILABLE] x")
        );
        assert_eq!(after_word("* NOTE x", "* NO"), None);
        assert_eq!(after_word("-ERRx", "-ERR"), None);
        assert_eq!(after_word("+OK", "-ERR"), None);
    }

    async fn greet(protocol: Protocol, wire: &'static [u8]) -> Result<String, Failure> {
        let (ours, mut theirs) = tokio::io::duplex(4096);
        theirs.write_all(wire).await.unwrap();
        let result = greeting(&mut Dialogue::new(ours), protocol, &ctx()).await;
        drop(theirs);
        result
    }

    #[tokio::test]
    async fn refusals_in_place_of_a_greeting_keep_the_servers_words() {
        use mailbeat_sdk::Status;
        // Yahoo Small Business (mscdex/node-imap#325): a `* NO` the server means as a refusal.
        let f = greet(
            Protocol::Imap,
            b"* NO [UNAVAILABLE] internal server error (#IS6530)\r\n",
        )
        .await
        .unwrap_err();
        assert_eq!(
            (f.status, f.reason),
            (Status::Critical, Reason::ServerUnavailable)
        );
        assert!(
            f.message.contains("internal server error (#IS6530)"),
            "{}",
            f.message
        );
        // A `* NO` with words no row knows is still not a greeting.
        let f = greet(Protocol::Imap, b"* NO go away\r\n")
            .await
            .unwrap_err();
        assert_eq!(f.reason, Reason::BadGreeting, "{}", f.message);
        assert!(f.message.contains("go away"), "{}", f.message);
        // VPOP3's per-address limit (wiki.pscs.co.uk): this client must come back slower.
        let f = greet(
            Protocol::Smtp,
            b"421 4.3.2 VPOP3 Too many connections from your IP address - try later\r\n",
        )
        .await
        .unwrap_err();
        assert_eq!((f.status, f.reason), (Status::Warning, Reason::RateLimited));
        // Any 5xx at connect is a refusal, not garbage (Yahoo's 553 for a blocklisted address).
        let f = greet(
            Protocol::Smtp,
            b"553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list;\r\n",
        )
        .await
        .unwrap_err();
        assert_eq!(f.reason, Reason::ServerUnavailable, "{}", f.message);
        // A code that is no refusal and no greeting stays a bad greeting.
        let f = greet(Protocol::Smtp, b"250 hello\r\n").await.unwrap_err();
        assert_eq!(f.reason, Reason::BadGreeting, "{}", f.message);
        assert!(greet(Protocol::Pop3, b"+OK Dovecot (Debian) ready.\r\n")
            .await
            .is_ok());
    }

    #[test]
    fn printable_escapes_and_caps() {
        assert_eq!(printable("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert!(printable(&"x".repeat(1000)).ends_with('…'));
    }
}
