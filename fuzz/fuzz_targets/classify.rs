//! The reply table (`mailbeat_probes::classify::classify`) on every kind of reply, and what a
//! refusal's text goes through on its way into a message: the secret scrubber and `printable`.
//!
//! Input: byte 0 picks the reply kind (`% 6`: SMTP, IMAP NO, IMAP BAD, POP3, an OAuth challenge
//! as JSON, an OAuth challenge as the base64 the server sends); byte 1 the provider; bytes 2–3
//! the SMTP code (big-endian, any u16); the rest is `secret NUL text` (without a NUL, all of it
//! is the text and the secret is a fixed one), read as the probes read server bytes (lossy
//! UTF-8).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailbeat_probes::auth::mechanism::{decode_challenge, Scrubber};
use mailbeat_probes::classify::{classify, Reply};
use mailbeat_probes::dialogue::printable;
use mailbeat_sdk::{Credentials, Secret, SecretKind};

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

fuzz_target!(|data: &[u8]| {
    let [kind, provider, hi, lo, rest @ ..] = data else {
        return;
    };
    let provider = PROVIDERS[usize::from(*provider) % PROVIDERS.len()];
    let code = u16::from_be_bytes([*hi, *lo]);
    let (secret, text) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (String::from_utf8_lossy(&rest[..i]), &rest[i + 1..]),
        None => ("pässwörd…hunter2".into(), rest),
    };
    let text = String::from_utf8_lossy(text);
    let decoded;
    let reply = match kind % 6 {
        0 => Reply::Smtp { code, text: &text },
        1 => Reply::Imap {
            bad: false,
            text: &text,
        },
        2 => Reply::Imap {
            bad: true,
            text: &text,
        },
        3 => Reply::Pop3 { text: &text },
        4 => Reply::OauthChallenge { json: &text },
        _ => {
            decoded = decode_challenge(&text);
            Reply::OauthChallenge { json: &decoded }
        }
    };
    let c = classify(&reply, provider);
    let _ = (c.status, c.reason);

    let kind = if kind & 0x80 == 0 {
        SecretKind::Password
    } else {
        SecretKind::AccessToken
    };
    let creds = Credentials {
        username: "user@example.com".into(),
        secret: Secret::new(secret),
        kind,
    };
    let scrubber = Scrubber::new(&creds, "mail.example.com", code);
    let shown = printable(&scrubber.scrub(&text));
    // Text shortened before it was scrubbed (the `…` path).
    let _ = scrubber.scrub(&shown);
});
