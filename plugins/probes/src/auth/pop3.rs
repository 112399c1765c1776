//! POP3 login: `USER`/`PASS` or `AUTH` (RFC 5034: PLAIN, XOAUTH2, OAUTHBEARER), confirmed with
//! `STAT`, closed with `QUIT`.
//!
//! POP3 is a handful of single-line exchanges, so it runs over [`crate::dialogue`] directly; the
//! `-ERR` text goes to the classifier as the server wrote it.

use super::mechanism::{self, decode_challenge, Mechanism, Offer, Sasl, MAX_CHALLENGES};
use super::{
    goodbye_budget, plaintext_refused, refusal, send_secret, LoggedIn, NotLoggedIn, Plan, Step,
};
use crate::classify::Reply;
use crate::dialogue::{self, BoxStream, Dialogue};
use crate::tls::client::open_session;
use crate::Failure;
use mailbeat_sdk::{ProbeContext, Protocol, Reason};

/// RFC 5034 §4: an AUTH command line, initial response included, stays within 255 octets;
/// longer responses (OAuth tokens) go after an empty `+` challenge.
const MAX_COMMAND: usize = 255;

/// Logs in as the plan says.
pub(crate) async fn login(plan: &Plan<'_>) -> Result<LoggedIn, NotLoggedIn> {
    let (target, ctx, creds) = (plan.target, plan.ctx, plan.creds);
    let session = open_session(target, ctx)
        .await
        .map_err(NotLoggedIn::at(Step::Connect))?;
    let tls = session.tls;
    let mut d = Dialogue::new(session.stream);
    let caps = dialogue::capabilities(&mut d, Protocol::Pop3, ctx)
        .await
        .map_err(NotLoggedIn::at(Step::Capabilities))?;
    // An empty list means the server does not know CAPA: we cannot tell what it takes, so try.
    let known = !caps.is_empty();
    let sasl_offer: Vec<String> = caps
        .iter()
        .filter_map(|c| {
            let mut words = c.split_whitespace();
            words
                .next()
                .filter(|w| w.eq_ignore_ascii_case("SASL"))
                .map(|_| words.map(str::to_ascii_uppercase).collect::<Vec<_>>())
        })
        .flatten()
        .collect();
    let user_command = caps.iter().any(|c| c.trim().eq_ignore_ascii_case("USER"));
    if !tls
        && known
        && !user_command
        && sasl_offer.is_empty()
        && dialogue::offers_starttls(Protocol::Pop3, &caps)
    {
        quit(&mut d, ctx).await;
        return Err(NotLoggedIn::at(Step::Capabilities)(plaintext_refused(
            "the server offers no login on this plaintext connection, only STLS",
        )));
    }
    let offer = Offer {
        known,
        sasl: sasl_offer,
        password_command: user_command,
    };
    let mech = match mechanism::choose(plan.configured, creds.kind, Protocol::Pop3, &offer) {
        Ok(m) => m,
        Err(failure) => {
            quit(&mut d, ctx).await;
            return Err(NotLoggedIn::at(Step::Capabilities)(failure));
        }
    };
    let sasl = Sasl::new(mech, creds, target.verify_name(), plan.port);

    let outcome = match mech {
        Mechanism::Login => user_pass(&mut d, plan).await,
        _ => auth(&mut d, plan, &sasl).await,
    };
    let answer = outcome.map_err(NotLoggedIn::with(Step::Auth, mech))?;
    if let Err((line, challenge)) = answer {
        let failure = refused(plan, &line, challenge.as_deref());
        quit(&mut d, ctx).await;
        return Err(NotLoggedIn::refused(Step::Auth, mech, failure, challenge));
    }

    let mut confirmed_with = None;
    if plan.confirm {
        d.send_command(ctx, "STAT", "STAT")
            .await
            .map_err(NotLoggedIn::with(Step::Confirm, mech))?;
        let line = d
            .read_line(ctx, "the STAT reply")
            .await
            .map_err(NotLoggedIn::with(Step::Confirm, mech))?;
        if !line.starts_with("+OK") {
            let failure = refused(plan, &line, None);
            quit(&mut d, ctx).await;
            return Err(NotLoggedIn::refused(Step::Confirm, mech, failure, None));
        }
        confirmed_with = Some("STAT");
    }
    quit(&mut d, ctx).await;
    Ok(LoggedIn {
        mechanism: mech,
        tls,
        confirmed_with,
        notes: Vec::new(),
    })
}

/// `Ok(Ok(()))` logged in; `Ok(Err((-ERR line, OAuth challenge)))` refused; `Err` the dialogue
/// broke.
type Answer = Result<Result<(), (String, Option<String>)>, Failure>;

async fn user_pass(d: &mut Dialogue<BoxStream>, plan: &Plan<'_>) -> Answer {
    let (ctx, creds) = (plan.ctx, plan.creds);
    if creds.username.contains(['\r', '\n']) || creds.secret.expose().contains(['\r', '\n']) {
        return Err(Failure::new(
            mailbeat_sdk::Status::Unknown,
            Reason::ConfigError,
            "the user name or password contains a line break, which USER/PASS cannot carry",
        ));
    }
    d.send_command(ctx, &format!("USER {}", creds.username), "USER")
        .await?;
    let line = d.read_line(ctx, "the USER reply").await?;
    if !line.starts_with("+OK") {
        return Ok(Err((line, None)));
    }
    send_secret(d, ctx, &format!("PASS {}", creds.secret.expose()), "PASS").await?;
    let line = d.read_line(ctx, "the PASS reply").await?;
    if line.starts_with("+OK") {
        Ok(Ok(()))
    } else {
        Ok(Err((line, None)))
    }
}

async fn auth(d: &mut Dialogue<BoxStream>, plan: &Plan<'_>, sasl: &Sasl) -> Answer {
    let ctx = plan.ctx;
    let name = sasl.mechanism.sasl_name();
    let with_ir = format!("AUTH {name} {}", sasl.response.expose());
    let mut initial_sent = with_ir.len() <= MAX_COMMAND;
    if initial_sent {
        send_secret(d, ctx, &with_ir, "AUTH").await?;
    } else {
        d.send_command(ctx, &format!("AUTH {name}"), "AUTH").await?;
    }
    let mut challenge = None;
    for _ in 0..=MAX_CHALLENGES {
        let line = d.read_line(ctx, "the AUTH reply").await?;
        if line.starts_with("+OK") {
            return Ok(Ok(()));
        }
        if line.starts_with("-ERR") {
            return Ok(Err((line, challenge)));
        }
        let Some(text) = line.strip_prefix('+') else {
            return Err(Failure::critical(
                Reason::ProtocolError,
                format!("unexpected reply to AUTH {name}: {}", plan.shown(&line)),
            ));
        };
        if !initial_sent {
            initial_sent = true;
            send_secret(d, ctx, sasl.response.expose(), "the SASL response").await?;
        } else {
            // Only the OAuth mechanisms send an error challenge; for PLAIN a `+` after the
            // initial response is not part of the mechanism, and is cancelled.
            if sasl.mechanism.is_oauth() {
                challenge = Some(decode_challenge(text));
            }
            d.send_command(ctx, sasl.error_challenge_answer, "the SASL response")
                .await?;
        }
    }
    d.send_command(ctx, "*", "the cancellation").await?;
    Err(Failure::critical(
        Reason::ProtocolError,
        format!("the server kept challenging AUTH {name}; cancelled"),
    ))
}

fn refused(plan: &Plan<'_>, line: &str, challenge: Option<&str>) -> Failure {
    let text = line
        .strip_prefix("-ERR")
        .map(str::trim_start)
        .unwrap_or(line);
    let mut message = plan.shown(line);
    if let Some(json) = challenge {
        message.push_str(&format!(" (OAuth error: {})", plan.shown(json)));
    }
    refusal(plan.target, &Reply::Pop3 { text }, challenge, message)
}

/// `QUIT`, best effort and briefly.
async fn quit(d: &mut Dialogue<BoxStream>, ctx: &ProbeContext) {
    let _ = tokio::time::timeout(goodbye_budget(ctx), async {
        if d.send_command(ctx, "QUIT", "QUIT").await.is_ok() {
            let _ = d.read_line(ctx, "the QUIT reply").await;
        }
    })
    .await;
}
