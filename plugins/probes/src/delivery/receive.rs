//! Looking for the probe message in the `via` mailbox over IMAP: log in (the auth probe's login,
//! `auth::imap::open`), find the junk folder, then poll INBOX and junk with
//! `UID SEARCH OR HEADER X-Mailbeat-Probe <id> HEADER X-Mailbeat-Probe <prefix>` under a
//! bounded back-off until the message is there or `within` has passed. Every hit is fetched (`BODY.PEEK[HEADER]`, so nothing is marked
//! read); the one with this run's id is the answer, and the others are this target's left-overs
//! from earlier runs (one that arrived after its run gave up), deleted so they do not pile up.
//!
//! The junk folder is the mailbox with the `\Junk` attribute (RFC 6154; asked for with
//! `LIST (SPECIAL-USE)` where the server offers SPECIAL-USE, otherwise read from a plain LIST),
//! else the first of the usual names. Deleting is `UID STORE +FLAGS.SILENT (\Deleted)` and then
//! `UID EXPUNGE` of just those messages where the server has UIDPLUS (RFC 4315); a server without
//! it gets a plain `EXPUNGE`, which also removes messages another client had marked deleted in
//! that mailbox.

use super::message::PROBE_HEADER;
use crate::auth::imap::{self, has, quote, Imap, Tagged};
use crate::auth::{login_failed, Plan};
use crate::Failure;
use async_imap::imap_proto::Status as ImapStatus;
use mailbeat_sdk::{CheckResult, Reason};
use std::time::{Duration, Instant};

/// The names a junk folder goes by where the server does not mark it (compared without case).
pub const JUNK_NAMES: &[&str] = &[
    "Junk",
    "Spam",
    "Junk E-mail",
    "Junk Email",
    "[Gmail]/Spam",
    "INBOX.Junk",
    "INBOX.Spam",
    "Bulk Mail",
];

/// First wait between two searches; it doubles up to [`MAX_POLL`].
pub const FIRST_POLL: Duration = Duration::from_millis(250);
/// Longest wait between two searches.
pub const MAX_POLL: Duration = Duration::from_secs(10);

/// What the search found.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The message with this run's id: where, when, and its header.
    pub found: Option<Found>,
    /// The mailboxes searched (INBOX and the junk folder, when there is one).
    pub searched: Vec<String>,
    /// The junk folder, when there is one.
    pub junk: Option<String>,
    /// Probe messages deleted (this one unless kept, and left-overs of earlier runs).
    pub deleted: usize,
    /// How many searches ran.
    pub polls: u32,
}

/// The probe message, found.
#[derive(Debug)]
pub(crate) struct Found {
    pub mailbox: String,
    pub in_junk: bool,
    /// When the search saw it.
    pub seen_at: Instant,
    /// Its header section, as the server has it.
    pub header: Vec<u8>,
}

/// Why the mailbox could not be searched.
#[derive(Debug)]
pub(crate) enum NotSearched {
    /// The login failed: the result the auth probe would give.
    Login(Box<CheckResult>),
    /// A command failed or the dialogue broke.
    Failed(Failure),
}

/// Logs in through `plan` and polls for the message with `id` until `until`; deletes it unless
/// `keep`, and deletes every other message whose probe header starts with `prefix`.
pub(crate) async fn find(
    plan: &Plan<'_>,
    id: &str,
    prefix: &str,
    until: Instant,
    keep: bool,
) -> Result<Outcome, NotSearched> {
    let mut session = match imap::open(plan).await {
        Ok(s) => s,
        Err(e) => return Err(NotSearched::Login(Box::new(login_failed(plan, e)))),
    };
    let caps = session.capabilities.clone();
    let result = poll(&mut session.imap, &caps, id, prefix, until, keep).await;
    session.imap.goodbye().await;
    result.map_err(NotSearched::Failed)
}

async fn poll(
    imap: &mut Imap<'_>,
    caps: &[String],
    id: &str,
    prefix: &str,
    until: Instant,
    keep: bool,
) -> Result<Outcome, Failure> {
    let junk = junk_folder(imap, caps).await?;
    let mut searched = vec!["INBOX".to_string()];
    searched.extend(junk.clone());
    let uidplus = has(caps, "UIDPLUS");
    let mut outcome = Outcome {
        found: None,
        searched: searched.clone(),
        junk: junk.clone(),
        deleted: 0,
        polls: 0,
    };
    let mut wait = FIRST_POLL;
    loop {
        outcome.polls += 1;
        for mailbox in &searched {
            let hits = probe_messages(imap, mailbox, id, prefix).await?;
            let mut delete = Vec::new();
            for (uid, header) in hits {
                if probe_id(&header).as_deref() == Some(id) {
                    if !keep {
                        delete.push(uid);
                    }
                    outcome.found = Some(Found {
                        mailbox: mailbox.clone(),
                        in_junk: Some(mailbox) == junk.as_ref(),
                        seen_at: Instant::now(),
                        header,
                    });
                } else {
                    delete.push(uid);
                }
            }
            outcome.deleted += delete_messages(imap, &delete, uidplus).await?;
            if outcome.found.is_some() {
                return Ok(outcome);
            }
        }
        let now = Instant::now();
        if now >= until {
            return Ok(outcome);
        }
        tokio::time::sleep(wait.min(until - now)).await;
        wait = (wait * 2).min(MAX_POLL);
    }
}

/// The junk folder: marked `\Junk`, else one of [`JUNK_NAMES`].
async fn junk_folder(imap: &mut Imap<'_>, caps: &[String]) -> Result<Option<String>, Failure> {
    if has(caps, "SPECIAL-USE") {
        let marked = ok(
            imap.command("LIST (SPECIAL-USE) \"\" \"*\"", "LIST", None)
                .await?,
            "LIST (SPECIAL-USE)",
        )?;
        if let Some(name) = marked_junk(&marked) {
            return Ok(Some(name));
        }
    }
    let all = ok(imap.command("LIST \"\" \"*\"", "LIST", None).await?, "LIST")?;
    if let Some(name) = marked_junk(&all) {
        return Ok(Some(name));
    }
    Ok(JUNK_NAMES.iter().find_map(|want| {
        all.mailboxes
            .iter()
            .find(|(name, attrs)| {
                name.eq_ignore_ascii_case(want) && !attrs.iter().any(|a| a.contains("noselect"))
            })
            .map(|(name, _)| name.clone())
    }))
}

fn marked_junk(list: &Tagged) -> Option<String> {
    list.mailboxes
        .iter()
        .find(|(_, attrs)| attrs.iter().any(|a| a.contains("junk")))
        .map(|(name, _)| name.clone())
}

/// Selects `mailbox` and returns the UID and header of every message whose probe header
/// contains `id` or `prefix`. The id is asked for on its own as well: a server whose header
/// search matches whole words rather than substrings (Gmail's) still finds this run's message,
/// even where it misses the left-overs.
async fn probe_messages(
    imap: &mut Imap<'_>,
    mailbox: &str,
    id: &str,
    prefix: &str,
) -> Result<Vec<(u32, Vec<u8>)>, Failure> {
    let name = quote(mailbox).ok_or_else(|| {
        Failure::critical(
            Reason::ProtocolError,
            format!("mailbox name {mailbox:?} cannot be quoted"),
        )
    })?;
    // SELECT again each round: a fresh view of the mailbox, whatever the server's idea of
    // when new messages show up in a selected one.
    ok(
        imap.command(&format!("SELECT {name}"), "SELECT", None)
            .await?,
        "SELECT",
    )?;
    let search = ok(
        imap.command(
            &format!(
                "UID SEARCH OR HEADER {PROBE_HEADER} \"{id}\" HEADER {PROBE_HEADER} \"{prefix}\""
            ),
            "SEARCH",
            None,
        )
        .await?,
        "UID SEARCH",
    )?;
    if search.search.is_empty() {
        return Ok(Vec::new());
    }
    let set = uid_set(&search.search);
    let fetch = ok(
        imap.command(
            &format!("UID FETCH {set} (UID BODY.PEEK[HEADER])"),
            "FETCH",
            None,
        )
        .await?,
        "UID FETCH",
    )?;
    Ok(fetch
        .fetched
        .into_iter()
        .filter_map(|(uid, header)| Some((uid?, header)))
        .collect())
}

/// Marks `uids` deleted and expunges them; how many there were.
async fn delete_messages(
    imap: &mut Imap<'_>,
    uids: &[u32],
    uidplus: bool,
) -> Result<usize, Failure> {
    if uids.is_empty() {
        return Ok(0);
    }
    let set = uid_set(uids);
    ok(
        imap.command(
            &format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)"),
            "STORE",
            None,
        )
        .await?,
        "UID STORE",
    )?;
    let expunge = if uidplus {
        format!("UID EXPUNGE {set}")
    } else {
        "EXPUNGE".to_string()
    };
    ok(imap.command(&expunge, "EXPUNGE", None).await?, "EXPUNGE")?;
    Ok(uids.len())
}

/// `1,5,9`: the UIDs as an IMAP sequence set.
fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A tagged reply that must be OK.
fn ok(reply: Tagged, what: &str) -> Result<Tagged, Failure> {
    if reply.status == ImapStatus::Ok {
        return Ok(reply);
    }
    Err(Failure::critical(
        Reason::ProtocolError,
        format!(
            "{what} refused: {}",
            crate::dialogue::printable(&reply.text)
        ),
    ))
}

/// The value of the probe header in a header section, trimmed.
pub fn probe_id(header: &[u8]) -> Option<String> {
    header_values(header, PROBE_HEADER).into_iter().next()
}

/// The values of every `name:` field in a header section, unfolded and trimmed.
pub fn header_values(header: &[u8], name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(header);
    let mut fields: Vec<String> = Vec::new();
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
        } else if !line.is_empty() {
            fields.push(line.to_string());
        }
    }
    fields
        .into_iter()
        .filter_map(|f| {
            let (n, v) = f.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_are_unfolded_and_found_without_case() {
        let h = b"Subject: x\r\nx-mailbeat-probe:  mailbeat-ab-1-2 \r\nAuthentication-Results: mx;\r\n\tspf=pass\r\n\r\n";
        assert_eq!(probe_id(h).as_deref(), Some("mailbeat-ab-1-2"));
        assert_eq!(
            header_values(h, "authentication-results"),
            vec!["mx; spf=pass".to_string()]
        );
        assert!(probe_id(b"Subject: none\r\n").is_none());
        assert_eq!(uid_set(&[3, 7]), "3,7");
    }
}
