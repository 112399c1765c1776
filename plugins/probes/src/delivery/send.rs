//! Sending the probe message: the auth probe's SMTP login (`auth::smtp::open`: connect,
//! the target's TLS mode, EHLO, AUTH), then `MAIL FROM`, `RCPT TO`, `DATA` and the message, then
//! `QUIT`. Each reply is read whole, so a refusal reaches the delivery classifier with its full
//! text and the hop it answered.

use crate::auth::smtp::{self, Session};
use crate::auth::{login_failed, Plan};
use crate::classify::delivery::Hop;
use crate::dialogue::SmtpReply;
use crate::Failure;
use mailbeat_sdk::CheckResult;

/// Why the message was not handed over.
#[derive(Debug)]
pub(crate) enum NotSent {
    /// The login failed: the result the auth probe would give, verdict on the credential and all.
    Login(Box<CheckResult>),
    /// The relay refused at `hop` with `reply`.
    Refused { hop: Hop, reply: SmtpReply },
    /// The dialogue broke (timeout, connection lost) at `hop`.
    Broken { hop: Hop, failure: Failure },
}

/// What the relay said when it took the message (Postfix: `250 2.0.0 Ok: queued as …`), and
/// whether the session was over TLS.
#[derive(Debug)]
pub(crate) struct Sent {
    pub reply: SmtpReply,
    pub tls: bool,
}

/// Logs in and hands over `message` (RFC 5322 bytes with CR LF line ends) from `from` to `to`.
pub(crate) async fn send(
    plan: &Plan<'_>,
    from: &str,
    to: &str,
    message: &[u8],
) -> Result<Sent, NotSent> {
    let ctx = plan.ctx;
    let mut session = match smtp::open(plan).await {
        Ok(s) => s,
        Err(e) => return Err(NotSent::Login(Box::new(login_failed(plan, e)))),
    };
    let outcome = transaction(&mut session, plan, from, to, message).await;
    smtp::quit(&mut session.d, ctx).await;
    outcome.map(|reply| Sent {
        reply,
        tls: session.tls,
    })
}

async fn transaction(
    s: &mut Session,
    plan: &Plan<'_>,
    from: &str,
    to: &str,
    message: &[u8],
) -> Result<SmtpReply, NotSent> {
    let ctx = plan.ctx;
    let broken = |hop| move |failure| NotSent::Broken { hop, failure };
    // The addresses were checked at load: no CR, LF or `>` can end the command early.
    s.d.send_command(ctx, &format!("MAIL FROM:<{from}>"), "MAIL FROM")
        .await
        .map_err(broken(Hop::Mail))?;
    let reply =
        s.d.smtp_reply(ctx, "the MAIL FROM reply")
            .await
            .map_err(broken(Hop::Mail))?;
    if reply.code != 250 {
        return Err(NotSent::Refused {
            hop: Hop::Mail,
            reply,
        });
    }
    s.d.send_command(ctx, &format!("RCPT TO:<{to}>"), "RCPT TO")
        .await
        .map_err(broken(Hop::Rcpt))?;
    let reply =
        s.d.smtp_reply(ctx, "the RCPT TO reply")
            .await
            .map_err(broken(Hop::Rcpt))?;
    if !matches!(reply.code, 250 | 251) {
        return Err(NotSent::Refused {
            hop: Hop::Rcpt,
            reply,
        });
    }
    s.d.send_command(ctx, "DATA", "DATA")
        .await
        .map_err(broken(Hop::Data))?;
    let reply =
        s.d.smtp_reply(ctx, "the DATA reply")
            .await
            .map_err(broken(Hop::Data))?;
    if reply.code != 354 {
        return Err(NotSent::Refused {
            hop: Hop::Data,
            reply,
        });
    }
    // One write: the message, dot-stuffed (RFC 5321 §4.5.2), and the line with the lone dot.
    s.d.send_command(ctx, &dot_stuffed(message), "the message")
        .await
        .map_err(broken(Hop::Data))?;
    let reply =
        s.d.smtp_reply(ctx, "the reply to the message")
            .await
            .map_err(broken(Hop::Data))?;
    if reply.code != 250 {
        return Err(NotSent::Refused {
            hop: Hop::Data,
            reply,
        });
    }
    Ok(reply)
}

/// The message as DATA carries it: every line that starts with `.` gets another, and a final
/// `.` line ends it (the caller's CR LF after it).
fn dot_stuffed(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    let text = text.strip_suffix("\r\n").unwrap_or(&text);
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push('.');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_are_stuffed_and_the_end_is_marked() {
        assert_eq!(dot_stuffed(b"a\r\n.b\r\n"), "a\r\n..b\r\n.");
        assert_eq!(dot_stuffed(b"a"), "a\r\n.");
    }
}
