//! The probe message: who it is from and to, a unique probe id in a header and in the subject,
//! and a short body that says what it is. Built with lettre's message builder, so the RFC 5322
//! headers (Date, Message-ID, encoded words, line folding) are done right.
//!
//! The id names the target only through a hash ([`target_tag`]), so one target's probe messages
//! can be found (and left-overs cleaned up) by a substring search, without putting the target's
//! configured name in a header. Nothing secret goes into the message: not the account's
//! password or token, nor anything derived from them.

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::Message;
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

/// The header that carries the probe id.
pub const PROBE_HEADER: &str = "X-Mailbeat-Probe";

/// Every probe id starts with this.
pub const ID_PREFIX: &str = "mailbeat-";

/// `X-Mailbeat-Probe: <id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProbeHeader(String);

impl Header for ProbeHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str(PROBE_HEADER)
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ProbeHeader(s.trim().to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// A stable tag for a target's probe messages: the first 12 hex digits of the SHA-256 of its
/// name. Every id of the target starts with `mailbeat-<tag>-`.
pub fn target_tag(target: &str) -> String {
    let digest = Sha256::digest(target.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// The prefix every probe id of `target` starts with (what the cleanup searches for).
pub fn id_prefix(target: &str) -> String {
    format!("{ID_PREFIX}{}-", target_tag(target))
}

/// A new probe id for `target`: its prefix, the time in milliseconds and 32 bits that differ
/// between two ids made in the same millisecond. Letters, digits and `-` only, so it can stand
/// unquoted in a header, a subject and an IMAP SEARCH.
pub fn new_id(target: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // RandomState is seeded per process and per instance: enough to keep two ids apart, and no
    // cryptography is asked of it.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(now.as_nanos());
    format!(
        "{}{}-{:08x}",
        id_prefix(target),
        now.as_millis(),
        h.finish() as u32
    )
}

/// Builds the message from `from` to `to` carrying `id`. The error names what was wrong with
/// an address (they are checked at load, so this is for a caller that skipped that).
pub fn build(from: &str, to: &str, id: &str, target: &str) -> Result<Message, String> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| format!("from {from:?} is not a mail address: {e}"))?;
    let to: Mailbox = to
        .parse()
        .map_err(|e| format!("to {to:?} is not a mail address: {e}"))?;
    let domain = from.email.domain().to_string();
    Message::builder()
        .from(from)
        .to(to)
        .subject(format!("mailbeat probe {id}"))
        .message_id(Some(format!("<{id}@{domain}>")))
        .date_now()
        .header(ProbeHeader(id.to_string()))
        .header(ContentType::TEXT_PLAIN)
        .body(format!(
            "This message was sent by mailbeat's delivery probe for target {target} to prove\r\n\
             that mail sent through it arrives. It is deleted once it has been seen.\r\n\
             Probe id: {id}\r\n"
        ))
        .map_err(|e| format!("cannot build the probe message: {e}"))
}

/// Checks that `address` is a mail address (for the options, at load).
pub fn check_address(address: &str) -> Result<(), String> {
    address
        .parse::<Mailbox>()
        .map(drop)
        .map_err(|e| format!("{address:?} is not a mail address: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_carry_the_targets_prefix() {
        let a = new_id("nas relay");
        let b = new_id("nas relay");
        assert_ne!(a, b);
        assert!(a.starts_with(&id_prefix("nas relay")), "{a}");
        assert!(!a.contains("nas"), "the name stays out of the id: {a}");
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert_ne!(target_tag("a"), target_tag("b"));
    }

    #[test]
    fn the_message_has_the_headers_a_relay_expects() {
        let id = new_id("t");
        let m = build("alice@mail.test", "bob@mail.test", &id, "t").unwrap();
        // Unfolded, as a reader sees the fields.
        let text = String::from_utf8(m.formatted())
            .unwrap()
            .replace("\r\n ", " ");
        let subject = format!("Subject: mailbeat probe {id}\r\n");
        for header in [
            "From: ",
            "To: ",
            "Date: ",
            "Message-ID: <",
            subject.as_str(),
        ] {
            assert!(text.contains(header), "{header} missing in {text}");
        }
        assert!(
            text.contains(&format!("X-Mailbeat-Probe: {id}\r\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("Message-ID: <{id}@mail.test>")),
            "{text}"
        );
        assert!(build("not an address", "bob@mail.test", &id, "t").is_err());
        assert!(check_address("a@b.example").is_ok());
        assert!(check_address("a\r\nRCPT TO:<x@y>").is_err());
    }
}
