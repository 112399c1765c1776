//! IMAP login: `LOGIN` or `AUTHENTICATE` (PLAIN, XOAUTH2, OAUTHBEARER, with SASL-IR when
//! offered), confirmed with `EXAMINE INBOX`, closed with `LOGOUT`.
//!
//! async-imap frames and parses the server's responses (tagged, untagged, continuations,
//! literals). We send the commands ourselves rather than call `Client::login` /
//! `Client::authenticate`, because those report a refusal as a `Debug` rendering
//! (`no response: code: Some(Alert), info: Some("…")`), drop untagged `* NO [ALERT]` /
//! `[WEBALERT]` lines that carry the real reason, hide the XOAUTH2 error challenge, and do not
//! speak SASL-IR. Reading the typed responses keeps the server's words for the classifier.
//! Writing the commands ourselves also keeps the password out of logs: async-imap's encoder
//! `trace!`-logs every command it sends, `LOGIN "user" "password"` included.
//!
//! async-imap has no read timeout and will buffer up to 512 MiB from a babbling peer: every read
//! runs under the check's deadline and the stream is capped at [`MAX_BYTES`]. It also sizes its
//! buffer from a literal's announced size before reading the literal (zero-filling it), so a
//! 34-byte `* 1 FETCH (BODY[] {500000000}` line would cost ~490 MB: the stream refuses any line
//! announcing a literal larger than [`MAX_LITERAL`] before async-imap sees it.

use super::mechanism::{
    self, decode_challenge, imap_quoted_body, Mechanism, Offer, Sasl, Scrubber, MAX_CHALLENGES,
};
use super::{goodbye_budget, plaintext_refused, refusal, LoggedIn, NotLoggedIn, Plan, Step};
use crate::classify::Reply;
use crate::dialogue::{printable, BoxStream};
use crate::tls_client::open_session;
use crate::{net, Failure};
use async_imap::imap_proto::{Capability, Response, ResponseCode, Status as ImapStatus};
use async_imap::Client;
use mailbeat_sdk::{Protocol, Reason, Status, TlsMode};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Most bytes read from the server in one check; a login dialogue is a few kilobytes.
pub const MAX_BYTES: usize = 1024 * 1024;

/// Largest literal (`{N}` at the end of a line) accepted from the server. Nothing in a login
/// dialogue needs one; a capability list or an alert that comes as a literal is small.
pub const MAX_LITERAL: u64 = 64 * 1024;

/// Logs in as the plan says.
pub(crate) async fn login(plan: &Plan<'_>) -> Result<LoggedIn, NotLoggedIn> {
    let (target, ctx, creds) = (plan.target, plan.ctx, plan.creds);
    let session = open_session(target, ctx)
        .await
        .map_err(NotLoggedIn::at(Step::Connect))?;
    let tls = session.tls;
    let greeting_caps = greeting_capabilities(&session.greeting);
    let mut imap = Imap {
        client: Client::new(Capped::new(session.stream, MAX_BYTES)),
        ctx,
        scrubber: plan.scrubber,
        next_tag: 0,
    };

    // Capabilities announced in a plaintext greeting are void after STARTTLS (RFC 3501 §6.2.1).
    let caps = match greeting_caps {
        Some(caps) if target.tls != TlsMode::Starttls => caps,
        _ => imap
            .capabilities()
            .await
            .map_err(NotLoggedIn::at(Step::Capabilities))?,
    };
    let login_disabled = has(&caps, "LOGINDISABLED");
    if !tls && login_disabled {
        imap.goodbye().await;
        return Err(NotLoggedIn::at(Step::Capabilities)(plaintext_refused(
            "the server announces LOGINDISABLED on this plaintext connection",
        )));
    }
    let offer = Offer {
        known: true,
        sasl: caps
            .iter()
            .filter_map(|c| strip_prefix_ci(c, "AUTH="))
            .map(|m| m.to_ascii_uppercase())
            .collect(),
        password_command: !login_disabled,
    };
    let mech = match mechanism::choose(plan.configured, creds.kind, Protocol::Imap, &offer) {
        Ok(m) => m,
        Err(failure) => {
            imap.goodbye().await;
            return Err(NotLoggedIn::at(Step::Capabilities)(failure));
        }
    };
    let sasl = Sasl::new(mech, creds, target.verify_name(), plan.port);

    let reply = match mech {
        Mechanism::Login => {
            let (user, pass) = match (quote(&creds.username), quote(creds.secret.expose())) {
                (Some(u), Some(p)) => (u, p),
                _ => {
                    return Err(NotLoggedIn::with(Step::Auth, mech)(Failure::new(
                        Status::Unknown,
                        Reason::ConfigError,
                        "the user name or password contains a line break or NUL, which IMAP LOGIN cannot carry",
                    )))
                }
            };
            imap.command(&format!("LOGIN {user} {pass}"), "LOGIN", None)
                .await
        }
        _ => {
            let ir = has(&caps, "SASL-IR");
            let command = if ir {
                format!("AUTHENTICATE {} {}", mech.sasl_name(), sasl.response.expose())
            } else {
                format!("AUTHENTICATE {}", mech.sasl_name())
            };
            imap.command(&command, "AUTHENTICATE", Some((&sasl, ir)))
                .await
        }
    }
    .map_err(NotLoggedIn::with(Step::Auth, mech))?;

    if reply.status != ImapStatus::Ok {
        let failure = reply.refusal(plan);
        imap.goodbye().await;
        return Err(NotLoggedIn::refused(
            Step::Auth,
            mech,
            failure,
            reply.challenge,
        ));
    }
    let mut notes = reply.notes;

    let mut confirmed_with = None;
    if plan.confirm {
        let examine = imap
            .command("EXAMINE INBOX", "EXAMINE", None)
            .await
            .map_err(NotLoggedIn::with(Step::Confirm, mech))?;
        if examine.status != ImapStatus::Ok {
            let failure = examine.refusal(plan);
            imap.goodbye().await;
            return Err(NotLoggedIn::refused(Step::Confirm, mech, failure, None));
        }
        notes.extend(examine.notes);
        confirmed_with = Some("EXAMINE INBOX");
    }
    imap.goodbye().await;
    Ok(LoggedIn {
        mechanism: mech,
        tls,
        confirmed_with,
        notes,
    })
}

/// The tagged completion of a command and what came with it.
#[derive(Debug)]
struct Tagged {
    status: ImapStatus,
    /// The completion text after `tag NO ` (response code rebuilt in brackets).
    text: String,
    /// Untagged `NO`/`BAD`/`BYE` and `[ALERT]` texts seen while waiting.
    notes: Vec<String>,
    /// The decoded OAuth error challenge, if the server sent one.
    challenge: Option<String>,
    /// Capabilities from untagged `CAPABILITY` data or a `[CAPABILITY …]` code.
    capabilities: Vec<String>,
}

impl Tagged {
    /// Classifies a refusal. The tagged text decides; the untagged notes only when it alone says
    /// nothing known (Gmail puts the useful words in `* NO [WEBALERT …]`).
    fn refusal(&self, plan: &Plan<'_>) -> Failure {
        let target = plan.target;
        let bad = self.status == ImapStatus::Bad;
        let word = status_word(&self.status);
        let mut message = format!("{word} {}", plan.shown(&self.text));
        if let Some(json) = &self.challenge {
            message.push_str(&format!(" (OAuth error: {})", plan.shown(json)));
        }
        if !self.notes.is_empty() {
            let notes: Vec<String> = self.notes.iter().map(|n| plan.shown(n)).collect();
            message.push_str(&format!(" (server also said: {})", notes.join(" / ")));
        }
        let challenge = self.challenge.as_deref();
        let tagged = refusal(
            target,
            &Reply::Imap {
                bad,
                text: &self.text,
            },
            challenge,
            message,
        );
        if tagged.reason != Reason::Unknown || self.notes.is_empty() {
            return tagged;
        }
        let all = format!("{}\n{}", self.notes.join("\n"), self.text);
        refusal(
            target,
            &Reply::Imap { bad, text: &all },
            challenge,
            tagged.message,
        )
    }
}

struct Imap<'a> {
    client: Client<Capped<BoxStream>>,
    ctx: &'a mailbeat_sdk::ProbeContext,
    scrubber: &'a Scrubber,
    next_tag: u32,
}

impl Imap<'_> {
    fn tag(&mut self) -> String {
        self.next_tag += 1;
        format!("a{}", self.next_tag)
    }

    /// Writes one line. The error names `verb` only: the line may carry a secret.
    async fn write_line(&mut self, line: &str, verb: &str) -> Result<(), Failure> {
        let io = self.client.get_mut();
        let write = async {
            io.write_all(line.as_bytes()).await?;
            io.write_all(b"\r\n").await?;
            io.flush().await
        };
        net::within(
            self.ctx,
            Reason::ServerTimeout,
            &format!("sending {verb}"),
            write,
        )
        .await?
        .map_err(|e| {
            Failure::critical(
                Reason::ProtocolError,
                format!("connection failed while sending {verb}: {e}"),
            )
        })
    }

    /// Asks for the capabilities (atoms as the server spells them, `AUTH=…` included).
    async fn capabilities(&mut self) -> Result<Vec<String>, Failure> {
        let reply = self.command("CAPABILITY", "CAPABILITY", None).await?;
        if reply.status != ImapStatus::Ok {
            return Err(Failure::critical(
                Reason::ProtocolError,
                format!(
                    "CAPABILITY refused: {}",
                    printable(&self.scrubber.scrub(&reply.text))
                ),
            ));
        }
        Ok(reply.capabilities)
    }

    /// Sends a tagged command and reads up to its completion. With `sasl`, continuation
    /// requests are answered: the first with the initial response unless it went with the
    /// command (SASL-IR), later ones are error challenges, recorded (OAuth mechanisms) and
    /// answered as the mechanism wants. More than [`MAX_CHALLENGES`] continuations, or one to a
    /// command that takes none, cancel the command as a protocol error.
    async fn command(
        &mut self,
        command: &str,
        verb: &str,
        sasl: Option<(&Sasl, bool)>,
    ) -> Result<Tagged, Failure> {
        let tag = self.tag();
        self.write_line(&format!("{tag} {command}"), verb).await?;
        let what = format!("the {verb} reply");
        let mut initial_sent = sasl.is_none_or(|(_, ir)| ir);
        let mut challenges = 0;
        let mut out = Tagged {
            status: ImapStatus::Bad,
            text: String::new(),
            notes: Vec::new(),
            challenge: None,
            capabilities: Vec::new(),
        };
        loop {
            let read = self.client.read_response();
            let response = net::within(
                self.ctx,
                Reason::ServerTimeout,
                &format!("waiting for {what}"),
                read,
            )
            .await?
            .map_err(|e| {
                let message = match e
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<LiteralTooLarge>())
                {
                    Some(refused) => refused.to_string(),
                    // async-imap's parse errors quote the whole buffer: scrub before shortening.
                    None => format!(
                        "connection failed while waiting for {what}: {}",
                        printable(&self.scrubber.scrub(&e.to_string()))
                    ),
                };
                Failure::critical(Reason::ProtocolError, message)
            })?;
            let Some(response) = response else {
                return closed(out, &what);
            };
            // What to send back, decided while the parsed response is borrowed.
            let mut answer: Option<String> = None;
            let mut cancel: Option<String> = None;
            match response.parsed() {
                Response::Done {
                    tag: done_tag,
                    status,
                    outcome,
                } if done_tag.0 == tag => {
                    out.status = copy_status(status);
                    out.text = render(outcome.code.as_ref(), outcome.information.as_deref());
                    if let Some(ResponseCode::Capabilities(caps)) = &outcome.code {
                        out.capabilities.extend(caps.iter().map(capability_name));
                    }
                    return Ok(out);
                }
                Response::Continue(outcome) => {
                    challenges += 1;
                    match sasl.filter(|_| challenges <= MAX_CHALLENGES) {
                        // Too many rounds, or a continuation for a command without one (a
                        // literal we never send): cancel, and do not wait for the server.
                        None => {
                            cancel = Some(match sasl {
                                Some((s, _)) => format!(
                                    "the server kept challenging AUTHENTICATE {}; cancelled",
                                    s.mechanism.sasl_name()
                                ),
                                None => format!("unexpected continuation request to {verb}"),
                            })
                        }
                        Some((s, _)) if !initial_sent => {
                            initial_sent = true;
                            answer = Some(s.response.expose().to_string());
                        }
                        Some((s, _)) => {
                            // Only the OAuth mechanisms send an error challenge; for PLAIN a `+`
                            // after the initial response is not part of the mechanism, and is
                            // cancelled by its error_challenge_answer (`*`).
                            if s.mechanism.is_oauth() {
                                let text = outcome.information.as_deref().unwrap_or("");
                                out.challenge = Some(decode_challenge(text));
                            }
                            answer = Some(s.error_challenge_answer.to_string());
                        }
                    }
                }
                Response::Data { status, outcome } => {
                    let text = render(outcome.code.as_ref(), outcome.information.as_deref());
                    let alert = matches!(outcome.code, Some(ResponseCode::Alert));
                    if alert || matches!(status, ImapStatus::No | ImapStatus::Bad | ImapStatus::Bye)
                    {
                        out.notes.push(format!("{} {text}", status_word(status)));
                    }
                    if let Some(ResponseCode::Capabilities(caps)) = &outcome.code {
                        out.capabilities.extend(caps.iter().map(capability_name));
                    }
                }
                Response::Capabilities(caps) => {
                    out.capabilities.extend(caps.iter().map(capability_name));
                }
                _ => {}
            }
            if let Some(why) = cancel {
                let _ = self.write_line("*", "the cancellation").await;
                return Err(Failure::critical(Reason::ProtocolError, why));
            }
            if let Some(line) = answer {
                self.write_line(&line, "the SASL response").await?;
            }
        }
    }

    /// `LOGOUT`, best effort and briefly: the verdict is already made.
    async fn goodbye(&mut self) {
        let _ = tokio::time::timeout(goodbye_budget(self.ctx), async {
            let tag = self.tag();
            if self
                .write_line(&format!("{tag} LOGOUT"), "LOGOUT")
                .await
                .is_err()
            {
                return;
            }
            while let Ok(Some(r)) = self.client.read_response().await {
                if matches!(r.parsed(), Response::Done { .. }) {
                    return;
                }
            }
        })
        .await;
    }
}

/// The connection ended before the tagged reply. A `* BYE` just before (too many attempts,
/// "account disabled") is the server's verdict and is classified like a tagged `NO`; otherwise
/// it is a protocol error.
fn closed(mut out: Tagged, what: &str) -> Result<Tagged, Failure> {
    match out.notes.iter().rposition(|n| n.starts_with("BYE ")) {
        Some(i) => {
            let bye = out.notes.remove(i);
            out.status = ImapStatus::Bye;
            out.text = bye.get("BYE ".len()..).unwrap_or_default().to_string();
            Ok(out)
        }
        None => Err(Failure::critical(
            Reason::ProtocolError,
            format!("connection closed by the server while waiting for {what}"),
        )),
    }
}

/// imap-proto's `Status` is not `Clone`.
fn copy_status(status: &ImapStatus) -> ImapStatus {
    match status {
        ImapStatus::Ok => ImapStatus::Ok,
        ImapStatus::No => ImapStatus::No,
        ImapStatus::Bad => ImapStatus::Bad,
        ImapStatus::PreAuth => ImapStatus::PreAuth,
        ImapStatus::Bye => ImapStatus::Bye,
    }
}

fn status_word(status: &ImapStatus) -> &'static str {
    match status {
        ImapStatus::Ok => "OK",
        ImapStatus::No => "NO",
        ImapStatus::Bad => "BAD",
        ImapStatus::PreAuth => "PREAUTH",
        ImapStatus::Bye => "BYE",
    }
}

/// Rebuilds `[CODE] text` from the parsed form. Codes imap-proto does not know (RFC 5530
/// `AUTHENTICATIONFAILED`, `PRIVACYREQUIRED`, Gmail's `WEBALERT`) stay inside the text as sent.
fn render(code: Option<&ResponseCode<'_>>, information: Option<&str>) -> String {
    let code = code.map(|c| match c {
        ResponseCode::Alert => "[ALERT]".to_string(),
        ResponseCode::Parse => "[PARSE]".to_string(),
        ResponseCode::ReadOnly => "[READ-ONLY]".to_string(),
        ResponseCode::ReadWrite => "[READ-WRITE]".to_string(),
        ResponseCode::TryCreate => "[TRYCREATE]".to_string(),
        ResponseCode::Capabilities(caps) => format!(
            "[CAPABILITY {}]",
            caps.iter()
                .map(capability_name)
                .collect::<Vec<_>>()
                .join(" ")
        ),
        // Mailbox-state codes (UIDVALIDITY, …) say nothing about a login.
        _ => String::new(),
    });
    match (code.filter(|c| !c.is_empty()), information) {
        (Some(c), Some(i)) => format!("{c} {i}"),
        (Some(c), None) => c,
        (None, Some(i)) => i.to_string(),
        (None, None) => String::new(),
    }
}

fn capability_name(c: &Capability<'_>) -> String {
    match c {
        Capability::Imap4rev1 => "IMAP4rev1".to_string(),
        Capability::Auth(m) => format!("AUTH={m}"),
        Capability::Atom(a) => a.to_string(),
    }
}

/// The capability list in a greeting's `[CAPABILITY …]` code, saving a round trip.
fn greeting_capabilities(greeting: &str) -> Option<Vec<String>> {
    let start = greeting.find("[CAPABILITY ")? + "[CAPABILITY ".len();
    let end = greeting[start..].find(']')? + start;
    Some(
        greeting[start..end]
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    )
}

fn has(caps: &[String], name: &str) -> bool {
    caps.iter().any(|c| c.eq_ignore_ascii_case(name))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// An IMAP quoted string, or `None` for what a quoted string cannot carry (CR, LF, NUL).
/// Non-ASCII goes through as UTF-8, which current servers accept.
fn quote(s: &str) -> Option<String> {
    if s.contains(['\r', '\n', '\0']) {
        return None;
    }
    Some(format!("\"{}\"", imap_quoted_body(s)))
}

/// A stream that refuses to read more than a fixed number of bytes, so a peer cannot make
/// async-imap's buffer grow without bound within the deadline, nor announce a literal larger
/// than [`MAX_LITERAL`] (which async-imap would allocate before reading it).
#[derive(Debug)]
struct Capped<S> {
    inner: S,
    left: usize,
    scratch: Vec<u8>,
    literals: LiteralGuard,
}

impl<S> Capped<S> {
    fn new(inner: S, limit: usize) -> Self {
        Capped {
            inner,
            left: limit,
            scratch: Vec::new(),
            literals: LiteralGuard::default(),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(size) = this.literals.refused {
            return Poll::Ready(Err(LiteralTooLarge(size).into()));
        }
        if this.left == 0 {
            return Poll::Ready(Err(io::Error::other(format!(
                "the server sent more than {MAX_BYTES} bytes during the login"
            ))));
        }
        // Read into a bounded scratch buffer (safe code cannot cap the caller's buffer), and
        // look at the bytes before async-imap does.
        let want = buf.remaining().min(this.left).min(16 * 1024);
        this.scratch.resize(want, 0);
        let mut limited = ReadBuf::new(&mut this.scratch);
        match Pin::new(&mut this.inner).poll_read(cx, &mut limited) {
            Poll::Ready(Ok(())) => {
                let filled = limited.filled();
                this.left -= filled.len();
                if let Err(size) = this.literals.scan(filled) {
                    return Poll::Ready(Err(LiteralTooLarge(size).into()));
                }
                buf.put_slice(filled);
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

/// The server announced a literal larger than [`MAX_LITERAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LiteralTooLarge(u64);

impl std::fmt::Display for LiteralTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "server announced a {}-byte literal during login", self.0)
    }
}

impl std::error::Error for LiteralTooLarge {}

impl From<LiteralTooLarge> for io::Error {
    fn from(e: LiteralTooLarge) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// Watches the server's bytes, however they are split into reads, for lines that end with a
/// literal header (`{N}` or `{N+}`, then CR LF). A literal up to [`MAX_LITERAL`] is let through
/// and its bytes skipped (they are data, not lines); a larger one is refused.
#[derive(Debug, Default)]
struct LiteralGuard {
    /// The end of the current line so far: enough for `{` + 20 digits + `+}` + CR.
    tail: Vec<u8>,
    /// Bytes dropped from the front of `tail` since the line began.
    tail_cut: bool,
    /// Literal bytes still to come.
    skip: u64,
    /// The size of the literal refused, once one was.
    refused: Option<u64>,
}

impl LiteralGuard {
    const TAIL: usize = 24;

    /// Looks at the next bytes from the server; `Err(N)` for a line announcing an N-byte literal
    /// larger than [`MAX_LITERAL`].
    fn scan(&mut self, mut bytes: &[u8]) -> Result<(), u64> {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                self.skip -= n as u64;
                bytes = &bytes[n..];
                continue;
            }
            let b = bytes[0];
            bytes = &bytes[1..];
            if b != b'\n' {
                if self.tail.len() == Self::TAIL {
                    self.tail.remove(0);
                    self.tail_cut = true;
                }
                self.tail.push(b);
                continue;
            }
            let announced = literal_size(&self.tail, self.tail_cut);
            self.tail.clear();
            self.tail_cut = false;
            match announced {
                Some(n) if n > MAX_LITERAL => {
                    self.refused = Some(n);
                    return Err(n);
                }
                Some(n) => self.skip = n,
                None => {}
            }
        }
        Ok(())
    }
}

/// The size a line (without its LF) announces with a literal header at its end: `{N}` or
/// `{N+}`, before an optional CR. `cut`: the line began before `tail` did; a run of digits that
/// reaches back past the cut counts as larger than any limit.
fn literal_size(tail: &[u8], cut: bool) -> Option<u64> {
    let line = tail.strip_suffix(b"\r").unwrap_or(tail);
    let inner = line.strip_suffix(b"}")?;
    let inner = inner.strip_suffix(b"+").unwrap_or(inner);
    let digits = inner
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return None;
    }
    let start = inner.len() - digits;
    if start == 0 {
        return cut.then_some(u64::MAX);
    }
    if inner[start - 1] != b'{' {
        return None;
    }
    Some(inner[start..].iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\\c").as_deref(), Some("\"a\\\"b\\\\c\""));
        assert_eq!(quote("a\r\nb"), None);
    }

    /// Feeds `stream` to a fresh guard in pieces of `size` bytes.
    fn guard(stream: &[u8], size: usize) -> Result<(), u64> {
        let mut g = LiteralGuard::default();
        stream.chunks(size).try_for_each(|c| g.scan(c))
    }

    #[test]
    fn large_literals_are_refused_however_the_reads_split() {
        for (stream, want) in [
            (&b"* 1 FETCH (BODY[] {500000000}\r\n"[..], Err(500_000_000)),
            (b"* 1 FETCH (BODY[] {500000000+}\r\n", Err(500_000_000)),
            (b"* OK x\r\n* 1 FETCH (BODY[] {65537}\n", Err(65_537)),
            (
                b"* 1 FETCH (BODY[] {99999999999999999999999999999}\r\n",
                Err(u64::MAX),
            ),
            // Small literals pass, and their data is not read as lines.
            (
                b"* 1 FETCH (BODY[] {20}\r\n{900000}\r\n{900000}\r\n)\r\n",
                Ok(()),
            ),
            (b"* CAPABILITY IMAP4rev1\r\na1 OK {65536}\r\n", Ok(())),
            // Not at the end of a line, or not a literal header.
            (b"a1 NO quota {500000000} exceeded\r\n", Ok(())),
            (b"a1 NO 500000000}\r\n", Ok(())),
            (b"a1 NO {}\r\n", Ok(())),
            (b"a1 NO {12a}\r\n", Ok(())),
        ] {
            for size in 1..=stream.len() {
                assert_eq!(
                    guard(stream, size),
                    want,
                    "{:?} in pieces of {size}",
                    String::from_utf8_lossy(stream)
                );
            }
        }
    }

    #[test]
    fn a_refused_literal_stays_refused() {
        let mut g = LiteralGuard::default();
        assert_eq!(g.scan(b"* 1 FETCH (BODY[] {70000}\r\n"), Err(70_000));
        assert_eq!(g.refused, Some(70_000));
    }

    #[test]
    fn greeting_caps() {
        let g = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGINDISABLED AUTH=PLAIN] Dovecot ready.";
        let caps = greeting_capabilities(g).unwrap();
        assert!(has(&caps, "logindisabled"));
        assert_eq!(strip_prefix_ci("auth=plain", "AUTH="), Some("plain"));
        assert!(greeting_capabilities("* OK ready").is_none());
    }

    #[test]
    fn render_rebuilds_codes() {
        assert_eq!(
            render(
                Some(&ResponseCode::Alert),
                Some("Please log in via your web browser")
            ),
            "[ALERT] Please log in via your web browser"
        );
        assert_eq!(
            render(None, Some("[AUTHENTICATIONFAILED] Authentication failed.")),
            "[AUTHENTICATIONFAILED] Authentication failed."
        );
    }
}
