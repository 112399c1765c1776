//! What the receiving side said of the message's authentication: the `spf=`, `dkim=` and
//! `dmarc=` results of its `Authentication-Results` header (RFC 8601), e.g.
//! `mx.google.com; dkim=pass header.i=@example.com; spf=pass (…) smtp.mailfrom=…; dmarc=pass (p=NONE) header.from=example.com`.
//!
//! A message can carry several such headers (one per hop that checked it); the topmost, added
//! by the server nearest the mailbox, is read first, and a method it does not mention is taken
//! from the next one that does. Results are lower case; anything that is not a plain word is
//! dropped, so a forged header cannot put odd text into a metric label.

use super::receive::header_values;
use std::collections::BTreeMap;

/// The methods read, in label order.
pub const METHODS: [&str; 3] = ["spf", "dkim", "dmarc"];

/// The result per method (`spf` → `pass`), for the methods the header section mentions.
pub fn results(header: &[u8]) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    for value in header_values(header, "Authentication-Results") {
        // The first part is the authserv-id (with an optional version).
        for part in value.split(';').skip(1) {
            let part = part.trim();
            let Some((method, rest)) = part.split_once('=') else {
                continue;
            };
            let method = method.trim().to_ascii_lowercase();
            let Some(&known) = METHODS.iter().find(|m| **m == method) else {
                continue;
            };
            let result: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .take(16)
                .collect::<String>()
                .to_ascii_lowercase();
            if !result.is_empty() {
                out.entry(known).or_insert(result);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_style_results_are_read() {
        // The shape Gmail adds (RFC 8601 §2.2), addresses changed.
        let h = b"Authentication-Results: mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=s1 header.b=abc;\r\n       spf=pass (google.com: domain of a@example.com designates 192.0.2.1 as permitted sender) smtp.mailfrom=a@example.com;\r\n       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.com\r\nSubject: x\r\n";
        let r = results(h);
        assert_eq!(r["spf"], "pass");
        assert_eq!(r["dkim"], "pass");
        assert_eq!(r["dmarc"], "pass");
    }

    #[test]
    fn the_topmost_header_wins_and_odd_text_is_dropped() {
        let h = b"Authentication-Results: mx.example; spf=softfail smtp.mailfrom=x\r\nAuthentication-Results: relay.example; spf=pass; dkim=none\r\n";
        let r = results(h);
        assert_eq!(r["spf"], "softfail");
        assert_eq!(r["dkim"], "none");
        assert!(!r.contains_key("dmarc"));
        let odd = results(b"Authentication-Results: x; spf=\"}{\" ; dmarc=FAIL\r\n");
        assert!(!odd.contains_key("spf"));
        assert_eq!(odd["dmarc"], "fail");
        assert!(results(b"Authentication-Results: mx.example; none\r\n").is_empty());
    }
}
