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
//! announcing a literal larger than [`MAX_LITERAL`] before async-imap sees it ([`Capped`]).

use super::mechanism::{
    self, decode_challenge, imap_quoted_body, Mechanism, Offer, Sasl, Scrubber, MAX_CHALLENGES,
};
use super::{goodbye_budget, plaintext_refused, refusal, LoggedIn, NotLoggedIn, Plan, Step};
use crate::classify::Reply;
use crate::dialogue::{printable, BoxStream};
use crate::io::{Capped, LiteralTooLarge};
use crate::tls::client::open_session;
use crate::{net, Failure};
use async_imap::imap_proto::{
    AttributeValue, Capability, MailboxDatum, Response, ResponseCode, Status as ImapStatus,
};
use async_imap::Client;
use futures::FutureExt;
use mailbeat_sdk::{Protocol, Reason, Status, TlsMode};
use std::future::Future;
use std::io;
use std::panic::AssertUnwindSafe;
use tokio::io::AsyncWriteExt;

/// Most bytes read from the server in one check; a login dialogue is a few kilobytes.
pub const MAX_BYTES: usize = 1024 * 1024;

/// Largest literal (`{N}` at the end of a line) accepted from the server. Nothing in a login
/// dialogue needs one; a capability list or an alert that comes as a literal is small.
pub const MAX_LITERAL: u64 = 64 * 1024;

/// Runs one `Client::read_response`. imap-proto 0.17 panics on some server bytes: a response code
/// followed by a non-ASCII character (`* OK [ALERT]授权码`) makes it slice the text at byte 1.
/// That is a server sending what cannot be parsed, so it becomes the same error as any other
/// unparseable response, not a panic that loses the check's verdict. Public for the fuzz target.
#[doc(hidden)]
pub async fn parse_guarded<T>(read: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    match AssertUnwindSafe(read).catch_unwind().await {
        Ok(read) => read,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the IMAP parser failed on the server's response",
        )),
    }
}

/// A logged-in IMAP session, ready for the next command (the delivery probe's searches).
pub(crate) struct Session<'a> {
    pub imap: Imap<'a>,
    pub mechanism: Mechanism,
    pub tls: bool,
    /// The capabilities after the login (announced with its OK, or asked for before it).
    pub capabilities: Vec<String>,
    pub notes: Vec<String>,
}

/// Logs in as the plan says.
pub(crate) async fn login(plan: &Plan<'_>) -> Result<LoggedIn, NotLoggedIn> {
    let Session {
        mut imap,
        mechanism: mech,
        tls,
        mut notes,
        ..
    } = open(plan).await?;
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

/// Connects, negotiates TLS as the target says, and logs in; the session stays open.
pub(crate) async fn open<'a>(plan: &Plan<'a>) -> Result<Session<'a>, NotLoggedIn> {
    let (target, ctx, creds) = (plan.target, plan.ctx, plan.creds);
    let session = open_session(target, ctx)
        .await
        .map_err(NotLoggedIn::at(Step::Connect))?;
    let tls = session.tls;
    let greeting_caps = greeting_capabilities(&session.greeting);
    let mut imap = Imap {
        client: Client::new(Capped::new(session.stream, MAX_BYTES, MAX_LITERAL)),
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
    // Capabilities may change with the login (RFC 3501 §6.2.3); a server that announced none with
    // its OK keeps the ones from before.
    let capabilities = if reply.capabilities.is_empty() {
        caps
    } else {
        reply.capabilities
    };
    Ok(Session {
        imap,
        mechanism: mech,
        tls,
        capabilities,
        notes: reply.notes,
    })
}

/// The tagged completion of a command and what came with it.
#[derive(Debug)]
pub(crate) struct Tagged {
    pub status: ImapStatus,
    /// The completion text after `tag NO ` (response code rebuilt in brackets).
    pub text: String,
    /// Untagged `NO`/`BAD`/`BYE` and `[ALERT]` texts seen while waiting.
    pub notes: Vec<String>,
    /// The decoded OAuth error challenge, if the server sent one.
    challenge: Option<String>,
    /// Capabilities from untagged `CAPABILITY` data or a `[CAPABILITY …]` code.
    capabilities: Vec<String>,
    /// Numbers from untagged `SEARCH` data.
    pub search: Vec<u32>,
    /// Mailboxes from untagged `LIST` data: the name and its attributes (`\Junk`, …), lower case.
    pub mailboxes: Vec<(String, Vec<String>)>,
    /// From untagged `FETCH` data: the UID and the body section, when they came.
    pub fetched: Vec<(Option<u32>, Vec<u8>)>,
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

/// An IMAP connection under a check's deadline, speaking through [`Imap::command`].
pub(crate) struct Imap<'a> {
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
    pub(crate) async fn command(
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
            search: Vec::new(),
            mailboxes: Vec::new(),
            fetched: Vec::new(),
        };
        loop {
            let read = parse_guarded(self.client.read_response());
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
                Response::MailboxData(MailboxDatum::Search(ids)) => {
                    out.search.extend(ids.iter().copied());
                }
                Response::MailboxData(MailboxDatum::List(list)) => {
                    let attributes = list
                        .name_attributes
                        .iter()
                        .map(|a| format!("{a:?}").to_ascii_lowercase())
                        .collect();
                    out.mailboxes.push((list.name.to_string(), attributes));
                }
                Response::Fetch(_, attributes) => {
                    let mut uid = None;
                    let mut body = Vec::new();
                    for a in attributes {
                        match a {
                            AttributeValue::Uid(u) => uid = Some(*u),
                            AttributeValue::BodySection {
                                data: Some(data), ..
                            } => body = data.to_vec(),
                            _ => {}
                        }
                    }
                    out.fetched.push((uid, body));
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
    pub(crate) async fn goodbye(&mut self) {
        let _ = tokio::time::timeout(goodbye_budget(self.ctx), async {
            let tag = self.tag();
            if self
                .write_line(&format!("{tag} LOGOUT"), "LOGOUT")
                .await
                .is_err()
            {
                return;
            }
            while let Ok(Some(r)) = parse_guarded(self.client.read_response()).await {
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

pub(crate) fn has(caps: &[String], name: &str) -> bool {
    caps.iter().any(|c| c.eq_ignore_ascii_case(name))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// An IMAP quoted string, or `None` for what a quoted string cannot carry (CR, LF, NUL).
/// Non-ASCII goes through as UTF-8, which current servers accept.
pub(crate) fn quote(s: &str) -> Option<String> {
    if s.contains(['\r', '\n', '\0']) {
        return None;
    }
    Some(format!("\"{}\"", imap_quoted_body(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\\c").as_deref(), Some("\"a\\\"b\\\\c\""));
        assert_eq!(quote("a\r\nb"), None);
    }

    #[test]
    fn greeting_caps() {
        let g = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGINDISABLED AUTH=PLAIN] Dovecot ready.";
        let caps = greeting_capabilities(g).unwrap();
        assert!(has(&caps, "logindisabled"));
        assert_eq!(strip_prefix_ci("auth=plain", "AUTH="), Some("plain"));
        assert!(greeting_capabilities("* OK ready").is_none());
    }

    /// Found by the `replies` fuzz target: imap-proto panicked ("byte index 1 is not a char
    /// boundary") on a response code followed by a non-ASCII byte, and the check was lost.
    #[tokio::test]
    async fn a_response_code_followed_by_non_ascii_is_an_error_not_a_panic() {
        let cases: [&[u8]; 3] = [
            "* OK [ALERT]授权码\r\n".as_bytes(),
            b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN]\xe8Dovecot ready.\r\n",
            "a1 NO [ALERT]é\r\n".as_bytes(),
        ];
        for bytes in cases {
            let (ours, mut theirs) = tokio::io::duplex(1024);
            theirs.write_all(bytes).await.unwrap();
            let mut client = Client::new(Capped::new(ours, MAX_BYTES, MAX_LITERAL));
            let err = parse_guarded(client.read_response()).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        }
        // The same with a space after the code parses.
        let (ours, mut theirs) = tokio::io::duplex(1024);
        theirs
            .write_all("* OK [ALERT] 授权码\r\n".as_bytes())
            .await
            .unwrap();
        let mut client = Client::new(Capped::new(ours, MAX_BYTES, MAX_LITERAL));
        assert!(parse_guarded(client.read_response())
            .await
            .unwrap()
            .is_some());
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
