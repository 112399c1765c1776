//! SMTP login: `EHLO`, `AUTH` (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER; RFC 4954), confirmed with
//! `NOOP`, closed with `QUIT`.
//!
//! Why not lettre (the usual Rust SMTP client, whose `test_connection()` does
//! connect+TLS+EHLO+AUTH+NOOP): this probe exists to report the server's exact refusal, and
//! lettre loses it where it matters most.
//! - A Gmail-style XOAUTH2 failure (`334 <base64 JSON>` then `535`) becomes a client error "This
//!   mechanism does not expect a challenge"; the JSON, which names the real reason, is gone.
//! - It cannot take our `ProbeContext::roots` as a `RootCertStore` with our verifier, nor connect
//!   to one address while verifying another name (`tls_server_name`), and it reports certificate
//!   errors as connection errors.
//! - Its timeout covers only the TCP connect; a server that hangs after `AUTH` would hang it.
//!
//! The dialogue is short (one AUTH exchange of at most three steps) and runs over the shared
//! [`crate::tls::client::open_session`] / [`crate::dialogue`] code that the tls probe also uses,
//! so connect, STARTTLS and certificate failures are named the same way everywhere, and the
//! multi-line reply reaches the classifier intact.

use super::mechanism::{self, decode_challenge, Mechanism, Offer, Sasl, MAX_CHALLENGES};
use super::{
    goodbye_budget, plaintext_refused, refusal, send_secret, LoggedIn, NotLoggedIn, Plan, Step,
};
use crate::classify::Reply;
use crate::dialogue::{self, BoxStream, Dialogue, SmtpReply};
use crate::tls::client::open_session;
use crate::Failure;
use mailbeat_sdk::{ProbeContext, Protocol, Reason};

/// A logged-in SMTP session, ready for the next command (the delivery probe's MAIL FROM).
pub(crate) struct Session {
    pub d: Dialogue<BoxStream>,
    pub mechanism: Mechanism,
    pub tls: bool,
}

/// Logs in as the plan says.
pub(crate) async fn login(plan: &Plan<'_>) -> Result<LoggedIn, NotLoggedIn> {
    let ctx = plan.ctx;
    let Session {
        mut d,
        mechanism: mech,
        tls,
    } = open(plan).await?;
    let mut confirmed_with = None;
    if plan.confirm {
        let noop = async {
            d.send_command(ctx, "NOOP", "NOOP").await?;
            d.smtp_reply(ctx, "the NOOP reply").await
        };
        let reply = noop.await.map_err(NotLoggedIn::with(Step::Confirm, mech))?;
        if reply.code != 250 {
            let failure = refused(plan, &reply, None);
            quit(&mut d, ctx).await;
            return Err(NotLoggedIn::refused(Step::Confirm, mech, failure, None));
        }
        confirmed_with = Some("NOOP");
    }
    quit(&mut d, ctx).await;
    Ok(LoggedIn {
        mechanism: mech,
        tls,
        confirmed_with,
        notes: Vec::new(),
    })
}

/// Connects, negotiates TLS as the target says, and logs in; the session stays open.
pub(crate) async fn open(plan: &Plan<'_>) -> Result<Session, NotLoggedIn> {
    let (target, ctx, creds) = (plan.target, plan.ctx, plan.creds);
    let session = open_session(target, ctx)
        .await
        .map_err(NotLoggedIn::at(Step::Connect))?;
    let tls = session.tls;
    let mut d = Dialogue::new(session.stream);
    // After STARTTLS the client must ask again (RFC 3207 §4.2): AUTH is often only offered now.
    let extensions = dialogue::capabilities(&mut d, Protocol::Smtp, ctx)
        .await
        .map_err(NotLoggedIn::at(Step::Capabilities))?;
    let auth_offer = auth_mechanisms(&extensions);
    if !tls && auth_offer.is_none() && dialogue::offers_starttls(Protocol::Smtp, &extensions) {
        quit(&mut d, ctx).await;
        return Err(NotLoggedIn::at(Step::Capabilities)(plaintext_refused(
            "the server offers AUTH only after STARTTLS",
        )));
    }
    let offer = Offer {
        known: true,
        sasl: auth_offer.unwrap_or_default(),
        password_command: false,
    };
    let mech = match mechanism::choose(plan.configured, creds.kind, Protocol::Smtp, &offer) {
        Ok(m) => m,
        Err(failure) => {
            quit(&mut d, ctx).await;
            return Err(NotLoggedIn::at(Step::Capabilities)(failure));
        }
    };
    let sasl = Sasl::new(mech, creds, target.verify_name(), plan.port);

    let (reply, challenge) = auth(&mut d, ctx, &sasl)
        .await
        .map_err(NotLoggedIn::with(Step::Auth, mech))?;
    if reply.code != 235 {
        let failure = refused(plan, &reply, challenge.as_deref());
        quit(&mut d, ctx).await;
        return Err(NotLoggedIn::refused(Step::Auth, mech, failure, challenge));
    }
    Ok(Session {
        d,
        mechanism: mech,
        tls,
    })
}

/// The SASL mechanisms of the `AUTH` extension (`AUTH PLAIN LOGIN`, or the pre-RFC
/// `AUTH=PLAIN LOGIN` some servers still send), upper case; `None` when AUTH is not offered.
fn auth_mechanisms(extensions: &[String]) -> Option<Vec<String>> {
    let mut found = None;
    for line in extensions {
        let Some(head) = line.get(..5) else { continue };
        if !head.eq_ignore_ascii_case("AUTH ") && !head.eq_ignore_ascii_case("AUTH=") {
            continue;
        }
        let list: &mut Vec<String> = found.get_or_insert_with(Vec::new);
        for m in line[5..].split_whitespace() {
            let m = m.to_ascii_uppercase();
            if !list.contains(&m) {
                list.push(m);
            }
        }
    }
    found
}

/// Runs the AUTH exchange; returns the final reply (235 or the refusal) and the decoded OAuth
/// error challenge, if one came.
async fn auth(
    d: &mut Dialogue<BoxStream>,
    ctx: &ProbeContext,
    sasl: &Sasl,
) -> Result<(SmtpReply, Option<String>), Failure> {
    let name = sasl.mechanism.sasl_name();
    // LOGIN has no initial response; the rest send theirs with the command (RFC 4954 §4).
    let mut login_step = 0;
    if sasl.mechanism == Mechanism::Login {
        d.send_command(ctx, "AUTH LOGIN", "AUTH").await?;
    } else {
        send_secret(
            d,
            ctx,
            &format!("AUTH {name} {}", sasl.response.expose()),
            "AUTH",
        )
        .await?;
    }
    let mut challenge = None;
    for _ in 0..=MAX_CHALLENGES {
        let reply = d.smtp_reply(ctx, "the AUTH reply").await?;
        if reply.code != 334 {
            return Ok((reply, challenge));
        }
        match sasl.mechanism {
            Mechanism::Login if login_step == 0 => {
                login_step = 1;
                d.send_command(ctx, &sasl.username_b64, "the user name")
                    .await?;
            }
            Mechanism::Login if login_step == 1 => {
                login_step = 2;
                send_secret(d, ctx, sasl.response.expose(), "the password").await?;
            }
            Mechanism::Xoauth2 | Mechanism::Oauthbearer => {
                challenge = Some(decode_challenge(&reply.text()));
                d.send_command(ctx, sasl.error_challenge_answer, "the SASL response")
                    .await?;
            }
            // PLAIN went with the command; a challenge now is not part of the mechanism.
            _ => d.send_command(ctx, "*", "the cancellation").await?,
        }
    }
    d.send_command(ctx, "*", "the cancellation").await?;
    Err(Failure::critical(
        Reason::ProtocolError,
        format!("the server kept challenging AUTH {name}; cancelled"),
    ))
}

/// The reply as it appeared on the wire, one line after another (`534-5.7.9 …`, `534 5.7.9 …`),
/// each line passed through `shown` (scrub, then shorten).
pub(crate) fn wire_text(reply: &SmtpReply, shown: impl Fn(&str) -> String) -> String {
    let last = reply.lines.len().saturating_sub(1);
    reply
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let sep = if i == last { ' ' } else { '-' };
            shown(&format!("{}{sep}{l}", reply.code))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn refused(plan: &Plan<'_>, reply: &SmtpReply, challenge: Option<&str>) -> Failure {
    let mut message = wire_text(reply, |l| plan.shown(l));
    if let Some(json) = challenge {
        message.push_str(&format!(" (OAuth error: {})", plan.shown(json)));
    }
    let text = reply.text();
    refusal(
        plan.target,
        &Reply::Smtp {
            code: reply.code,
            text: &text,
        },
        challenge,
        message,
    )
}

/// `QUIT`, best effort and briefly.
pub(crate) async fn quit(d: &mut Dialogue<BoxStream>, ctx: &ProbeContext) {
    let _ = tokio::time::timeout(goodbye_budget(ctx), async {
        if d.send_command(ctx, "QUIT", "QUIT").await.is_ok() {
            let _ = d.smtp_reply(ctx, "the QUIT reply").await;
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_line_is_read_in_both_spellings() {
        let ext = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(auth_mechanisms(&ext(&["PIPELINING", "STARTTLS"])), None);
        assert_eq!(
            auth_mechanisms(&ext(&["AUTH LOGIN PLAIN XOAUTH2", "AUTH=LOGIN PLAIN"])),
            Some(vec!["LOGIN".into(), "PLAIN".into(), "XOAUTH2".into()])
        );
        assert_eq!(
            auth_mechanisms(&ext(&["auth plain"])),
            Some(vec!["PLAIN".into()])
        );
        assert_eq!(auth_mechanisms(&ext(&["AUTHX"])), None);
    }

    #[test]
    fn wire_text_keeps_the_line_shape() {
        let r = SmtpReply {
            code: 534,
            lines: vec![
                "5.7.9 Application-specific password required.".into(),
                "5.7.9 https://x".into(),
            ],
        };
        assert_eq!(
            wire_text(&r, crate::dialogue::printable),
            "534-5.7.9 Application-specific password required. 534 5.7.9 https://x"
        );
    }
}
