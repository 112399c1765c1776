//! The plaintext dialogues (`mailbeat_probes::dialogue`) against a server that says anything:
//! greetings, EHLO / CAPABILITY / CAPA, STARTTLS / STLS, and the replies to an authentication
//! attempt, read the way the auth probe reads them and handed to the classifier.
//!
//! Input: byte 0 picks the protocol (`% 3`: SMTP, IMAP, POP3) and the conversation (`/ 3 % 4`:
//! greeting; greeting then STARTTLS; capabilities; an authentication reply); byte 1 picks how
//! the server's bytes are split into reads (low nibble) and the target's provider (high
//! nibble); the rest is everything the server sends, served from memory (end of input is the
//! server closing the connection). What the client writes is swallowed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailbeat_probes::auth::mechanism::decode_challenge;
use mailbeat_probes::classify::{classify, Reply};
use mailbeat_probes::dialogue::{self, printable, Dialogue};
use mailbeat_sdk::{ProbeContext, Protocol};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The server: its bytes, handed out at most `chunk` at a time.
#[derive(Debug)]
struct Server<'a> {
    bytes: &'a [u8],
    chunk: usize,
}

impl AsyncRead for Server<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.bytes.len().min(self.chunk).min(buf.remaining());
        let (now, rest) = self.bytes.split_at(n);
        buf.put_slice(now);
        self.bytes = rest;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Server<'_> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

const CHUNKS: [usize; 16] = [
    usize::MAX,
    1,
    2,
    3,
    4,
    5,
    7,
    8,
    13,
    16,
    64,
    100,
    512,
    1000,
    4096,
    8192,
];
const PROVIDERS: [Option<&str>; 8] = [
    None,
    Some("gmail"),
    Some("office365"),
    Some("outlook"),
    Some("netease"),
    Some("163"),
    Some("yahoo"),
    Some("no-such-provider"),
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    })
}

fn roots() -> Arc<rustls::RootCertStore> {
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| Arc::new(rustls::RootCertStore::empty()))
        .clone()
}

/// The classifier on a refusal, as `auth::refusal` calls it (the OAuth challenge first).
fn judge(reply: &Reply<'_>, challenge: Option<&str>, provider: Option<&str>) {
    let _ = classify(reply, provider);
    if let Some(json) = challenge {
        let _ = classify(&Reply::OauthChallenge { json }, provider);
        let _ = printable(json);
    }
}

async fn converse(protocol: Protocol, step: u8, provider: Option<&str>, server: Server<'_>) {
    let ctx = ProbeContext::new(Duration::from_secs(60), roots());
    let mut d = Dialogue::new(server);
    match step {
        0 => {
            let _ = dialogue::greeting(&mut d, protocol, &ctx).await;
            let _ = d.into_inner();
        }
        1 => {
            if dialogue::greeting(&mut d, protocol, &ctx).await.is_ok() {
                let _ = dialogue::starttls(d, protocol, &ctx).await;
            }
        }
        2 => {
            if let Ok(caps) = dialogue::capabilities(&mut d, protocol, &ctx).await {
                let _ = dialogue::offers_starttls(protocol, &caps);
                let _ = printable(&caps.join(", "));
            }
        }
        _ => match protocol {
            // AUTH: challenges (334) until the final reply, as `auth::smtp` reads them.
            Protocol::Smtp => {
                let mut challenge = None;
                for _ in 0..=mailbeat_probes::auth::mechanism::MAX_CHALLENGES {
                    let Ok(reply) = d.smtp_reply(&ctx, "the AUTH reply").await else {
                        return;
                    };
                    let _ = reply.to_string();
                    if reply.code != 334 {
                        let text = reply.text();
                        let reply = Reply::Smtp {
                            code: reply.code,
                            text: &text,
                        };
                        judge(&reply, challenge.as_deref(), provider);
                        return;
                    }
                    challenge = Some(decode_challenge(&reply.text()));
                }
            }
            // A tagged NO/BAD after untagged lines and `+` challenges.
            Protocol::Imap => {
                let Ok((untagged, status)) = d.imap_tagged(&ctx, "a1", "the LOGIN reply").await
                else {
                    return;
                };
                let challenge = untagged
                    .iter()
                    .find_map(|l| l.strip_prefix("+ "))
                    .map(decode_challenge);
                let (bad, text) = match status.split_once(' ') {
                    Some(("BAD", text)) => (true, text),
                    Some((_, text)) => (false, text),
                    None => (false, ""),
                };
                judge(&Reply::Imap { bad, text }, challenge.as_deref(), provider);
            }
            // `+challenge` lines, then `+OK` or `-ERR text`, as `auth::pop3` reads them.
            Protocol::Pop3 => {
                let mut challenge = None;
                for _ in 0..=mailbeat_probes::auth::mechanism::MAX_CHALLENGES {
                    let Ok(line) = d.read_line(&ctx, "the AUTH reply").await else {
                        return;
                    };
                    if line.starts_with("+OK") {
                        return;
                    }
                    if let Some(text) = line.strip_prefix("-ERR") {
                        let reply = Reply::Pop3 {
                            text: text.trim_start(),
                        };
                        judge(&reply, challenge.as_deref(), provider);
                        return;
                    }
                    let Some(text) = line.strip_prefix('+') else {
                        return;
                    };
                    challenge = Some(decode_challenge(text));
                }
            }
        },
    }
}

fuzz_target!(|data: &[u8]| {
    let [pick, split, bytes @ ..] = data else {
        return;
    };
    let protocol = [Protocol::Smtp, Protocol::Imap, Protocol::Pop3][usize::from(pick % 3)];
    let step = pick / 3 % 4;
    let chunk = CHUNKS[usize::from(split & 0x0f)];
    let provider = PROVIDERS[usize::from(split >> 4) % PROVIDERS.len()];
    let server = Server { bytes, chunk };
    runtime().block_on(converse(protocol, step, provider, server));
});
