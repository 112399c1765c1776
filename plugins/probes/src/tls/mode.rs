//! A `tls:` mode that is wrong for the port, said in those words. One place for the `tls` probe
//! and every probe that opens a session (`auth`): a client speaking TLS to a plain-text port gets
//! rustls's "received corrupt message of type InvalidContentType", and a client waiting for the
//! greeting of an implicit-TLS port gets silence; neither tells a person what to change.

use crate::dialogue;
use crate::Failure;
use mailbeat_sdk::{Reason, Target, TlsMode};

/// The ports where TLS starts at once, by their IANA assignment: submissions, imaps, pop3s.
const IMPLICIT_TLS_PORTS: [u16; 3] = [465, 993, 995];

/// A handshake that failed before any certificate, given the first bytes the server sent: when
/// they are a plain-text line (a greeting where TLS was expected), the failure says that the
/// port speaks plain text and which mode to use. Any other failure is returned as it is.
pub(crate) fn plain_text_instead_of_tls(
    failure: Failure,
    first: &[u8],
    target: &Target,
) -> Failure {
    if failure.reason != Reason::TlsHandshakeFailed || first.is_empty() {
        return failure;
    }
    let line = first.split(|&b| b == b'\n').next().unwrap_or(first);
    let printable = line
        .iter()
        .all(|&b| b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b));
    if !printable {
        return failure;
    }
    let text = dialogue::printable(String::from_utf8_lossy(line).trim_end());
    let message = match target.tls {
        TlsMode::Starttls => {
            format!("the server accepted STARTTLS but then spoke plain text, not TLS: '{text}'")
        }
        _ => format!(
            "{} speaks plain text, not TLS (it said '{text}'): use tls: starttls",
            port_words(target)
        ),
    };
    Failure::new(failure.status, Reason::TlsHandshakeFailed, message)
}

/// A greeting that never came while the target expects one in plain text (`tls: starttls` or
/// `none`): an implicit-TLS port waits for the client's TLS hello and says nothing. The failure
/// (its reason kept) says so, firmly for the ports assigned to implicit TLS, as a question for
/// others (a hanging server is silent too).
pub(crate) fn silence_instead_of_greeting(failure: Failure, target: &Target) -> Failure {
    if failure.reason != Reason::ServerTimeout || target.tls == TlsMode::Implicit {
        return failure;
    }
    let port = target.mail().map(|m| m.port);
    let hint = if port.is_some_and(|p| IMPLICIT_TLS_PORTS.contains(&p)) {
        format!(
            "{} is an implicit-TLS port, where the server says nothing until the client starts TLS: use tls: implicit",
            port_words(target)
        )
    } else {
        format!(
            "if {} speaks implicit TLS (the server says nothing until the client starts TLS), use tls: implicit",
            port_words(target)
        )
    };
    Failure::new(
        failure.status,
        failure.reason,
        format!("{}; {hint}", failure.message),
    )
}

/// `port 587`, or `the port` for a target without one.
fn port_words(target: &Target) -> String {
    target
        .mail()
        .map(|m| format!("port {}", m.port))
        .unwrap_or_else(|| "the port".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(port: u16, tls: TlsMode) -> Target {
        serde_json::from_value(serde_json::json!({
            "name": "t", "protocol": "smtp", "host": "127.0.0.1", "port": port, "tls": tls,
        }))
        .unwrap()
    }

    #[test]
    fn plain_text_on_a_tls_handshake_names_the_mode_to_use() {
        let f = Failure::critical(
            Reason::TlsHandshakeFailed,
            "TLS: received corrupt message of type InvalidContentType",
        );
        let r = plain_text_instead_of_tls(
            f.clone(),
            b"220 mail.test ESMTP\r\n",
            &target(587, TlsMode::Implicit),
        );
        assert_eq!(
            r.message,
            "port 587 speaks plain text, not TLS (it said '220 mail.test ESMTP'): use tls: starttls"
        );
        assert_eq!(r.reason, Reason::TlsHandshakeFailed);
        let r =
            plain_text_instead_of_tls(f.clone(), b"220 again\r\n", &target(587, TlsMode::Starttls));
        assert!(r.message.contains("accepted STARTTLS"), "{}", r.message);
        // TLS bytes, or nothing: not plain text, the failure as it was.
        let r = plain_text_instead_of_tls(
            f.clone(),
            &[0x16, 0x03, 0x01],
            &target(587, TlsMode::Implicit),
        );
        assert_eq!(r, f);
        assert_eq!(
            plain_text_instead_of_tls(f.clone(), b"", &target(587, TlsMode::Implicit)),
            f
        );
    }

    #[test]
    fn silence_on_an_implicit_tls_port_names_the_mode_to_use() {
        let f = Failure::critical(Reason::ServerTimeout, "timed out waiting for the greeting");
        let r = silence_instead_of_greeting(f.clone(), &target(993, TlsMode::Starttls));
        assert_eq!(
            r.message,
            "timed out waiting for the greeting; port 993 is an implicit-TLS port, where the server says nothing until the client starts TLS: use tls: implicit"
        );
        let r = silence_instead_of_greeting(f.clone(), &target(10465, TlsMode::None));
        assert!(
            r.message.contains("if port 10465 speaks implicit TLS"),
            "{}",
            r.message
        );
        assert_eq!(r.reason, Reason::ServerTimeout);
        // Implicit TLS already, or another failure: as it was.
        assert_eq!(
            silence_instead_of_greeting(f.clone(), &target(993, TlsMode::Implicit)),
            f
        );
        let other = Failure::critical(Reason::BadGreeting, "x");
        assert_eq!(
            silence_instead_of_greeting(other.clone(), &target(993, TlsMode::Starttls)),
            other
        );
    }
}
