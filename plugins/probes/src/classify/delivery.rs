//! What a relay's refusal of a message means: the reply to `MAIL FROM`, `RCPT TO` or `DATA`
//! (or the final reply after the message) to a [`Refusal`].
//!
//! Every refusal here is [`Reason::DeliveryRejected`]: the account logged in, and the relay would
//! not take this message. What differs is the cause, and with it what a person must do, so each
//! row names a [`Cause`] and the cause carries its remediation (English and Japanese). A 5xx is
//! **critical** (the relay will refuse the device's alerts the same way); a 4xx is a **warning**
//! (the relay says "later", and an alert rule's `for:` turns a lasting one into a page).
//!
//! Rows are tried in order and the first match wins; a row matches by enhanced status code
//! (RFC 3463, any basic code) or by words in the text (lower case, `*` for any text). The real
//! replies behind each row, with their sources, are this module's test data (`REPLIES`), and a
//! test checks that every row is hit by one.

use super::{contains, enhanced_code};
use mailbeat_sdk::{Locale, Reason, Status};

/// Where in the SMTP transaction the relay refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// `MAIL FROM`: the sender.
    Mail,
    /// `RCPT TO`: the recipient.
    Rcpt,
    /// `DATA`, or the reply after the message itself.
    Data,
}

impl Hop {
    /// The name in results (`details.hop`): `mail`, `rcpt`, `data`.
    pub fn as_str(self) -> &'static str {
        match self {
            Hop::Mail => "mail",
            Hop::Rcpt => "rcpt",
            Hop::Data => "data",
        }
    }
}

/// Why the relay refused the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The From is not an address the authenticated account may send as (Microsoft
    /// `SendAsDenied`, Postfix `reject_sender_login_mismatch`).
    SendAsDenied,
    /// The account hit its sending limit (Gmail's daily limit, Microsoft's recipient rate limit).
    SendingLimit,
    /// The recipient does not exist.
    UnknownRecipient,
    /// The recipient's mailbox (or, at Microsoft, the sender's own) is full.
    MailboxFull,
    /// The relay does not relay for this account to that destination.
    RelayDenied,
    /// The content was refused as spam or by policy.
    Spam,
    /// Anything no row knows: the server's words in the message say it.
    Other,
}

impl Cause {
    /// The name in results (`details.cause`).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::SendAsDenied => "send_as_denied",
            Cause::SendingLimit => "sending_limit",
            Cause::UnknownRecipient => "unknown_recipient",
            Cause::MailboxFull => "mailbox_full",
            Cause::RelayDenied => "relay_denied",
            Cause::Spam => "content_refused",
            Cause::Other => "other",
        }
    }

    /// What a person must do, in `locale`; `None` for [`Cause::Other`], where the generic
    /// `delivery_rejected` text applies. `USER` and `TARGET` are the target's words (the agent
    /// fills them in, as for every remediation).
    pub fn remediation(self, locale: Locale) -> Option<&'static str> {
        let (en, ja) = match self {
            Cause::SendAsDenied => (
                "The relay does not let the account USER send as the probe's `from` address. Set \
                 `from` to the account's own address (the default), or give USER the right to send \
                 as that address (Microsoft 365: the mailbox's Send As permission in the Exchange \
                 admin center; Postfix: smtpd_sender_login_maps).",
                "中継サーバーは、アカウント USER がプローブの `from` のアドレスとして送信することを許可していません。\
                 `from` をアカウント自身のアドレス（既定値）にするか、USER にそのアドレスとして送信する権限を与えて\
                 ください（Microsoft 365 は Exchange 管理センターでメールボックスの「送信者として送信」権限、Postfix は \
                 smtpd_sender_login_maps）。",
            ),
            Cause::SendingLimit => (
                "The account USER has reached its sending limit (Gmail: a daily limit per user; \
                 Microsoft 365: 10,000 recipients a day over SMTP AUTH). Find what else sends \
                 through this account, let the limit reset (a rolling 24 hours), and keep the \
                 delivery probe's `every` at 1h or longer.",
                "アカウント USER が送信数の上限に達しました（Gmail はユーザーごとの 1 日の上限、Microsoft 365 は \
                 SMTP AUTH で 1 日 10,000 宛先）。このアカウントで他に何が送信しているかを調べ、上限が解除される\
                 （24 時間の移動枠）のを待ち、delivery プローブの `every` を 1h 以上にしてください。",
            ),
            Cause::UnknownRecipient => (
                "The relay says the probe's recipient (`to`) does not exist. Check the address for \
                 typos and that the mailbox the `via` target reads still exists.",
                "中継サーバーは、プローブの宛先（`to`）が存在しないと応答しました。アドレスに誤字がないか、`via` \
                 ターゲットが読むメールボックスがまだ存在するかを確認してください。",
            ),
            Cause::MailboxFull => (
                "A mailbox is full: the recipient's (`to`), or at Microsoft 365 the sending \
                 account's own, whose Sent Items count toward its quota. Free space or raise the \
                 quota, and for a device's account set a retention policy that empties Sent Items.",
                "メールボックスが満杯です。宛先（`to`）のもの、または Microsoft 365 では送信アカウント自身のもの\
                 （送信済みアイテムが容量に含まれます）です。空き容量を作るか容量を増やし、機器用のアカウントには\
                 送信済みアイテムを空にする保持ポリシーを設定してください。",
            ),
            Cause::RelayDenied => (
                "The relay does not relay mail from the account USER to the probe's recipient. \
                 Check that the target is the submission service of the account's provider and \
                 that the relay allows authenticated users to send to other domains.",
                "中継サーバーは、アカウント USER からプローブの宛先へのメールを中継しません。ターゲットが\
                 アカウントのプロバイダのサブミッションサービスであるか、認証済みユーザーが他のドメインへ送信できる\
                 設定になっているかを確認してください。",
            ),
            Cause::Spam => (
                "The relay refused the message's content as spam or by policy. Read the server's \
                 words in the message, check the sending account for compromise (a blocked \
                 account often follows spam sent through it), and ask the provider to review \
                 the block.",
                "中継サーバーはメッセージの内容をスパムまたはポリシー違反として拒否しました。メッセージにある\
                 サーバーの応答を読み、送信アカウントが乗っ取られていないかを確認し（スパム送信の後にアカウントが\
                 ブロックされることがよくあります）、プロバイダにブロックの見直しを依頼してください。",
            ),
            Cause::Other => return None,
        };
        Some(match locale {
            Locale::En => en,
            Locale::Ja => ja,
        })
    }
}

/// What a refusal means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: Status,
    pub reason: Reason,
    pub cause: Cause,
}

/// One row: an enhanced code or words → the cause.
struct Row {
    /// An enhanced status code that starts the text (any basic code).
    enhanced: Option<&'static str>,
    /// Words in the text (lower case); empty: the enhanced code alone decides.
    words: &'static [&'static str],
    cause: Cause,
}

const fn row(enhanced: Option<&'static str>, words: &'static [&'static str], cause: Cause) -> Row {
    Row {
        enhanced,
        words,
        cause,
    }
}

/// Words before codes, and the narrow causes first: Microsoft's quota text carries `5.2.0` and
/// its send-as text `5.2.252` or `5.2.0`, so the words decide there.
#[rustfmt::skip]
static ROWS: &[Row] = &[
    row(None, &["sendasdenied", "not allowed to send as", "not owned by user",
                "sender address rejected: not logged in"],                     Cause::SendAsDenied),
    row(None, &["sending limit", "sending quota", "submissionquotaexceeded",
                "recipient rate limit", "sender throttled", "message submission rate"],
                                                                              Cause::SendingLimit),
    row(Some("5.4.5"), &[],                                                   Cause::SendingLimit),
    row(None, &["mailbox full", "mailbox is full", "over quota", "quota exceeded",
                "exceeded storage allocation", "insufficient storage"],       Cause::MailboxFull),
    row(Some("5.2.2"), &[],                                                   Cause::MailboxFull),
    row(Some("4.2.2"), &[],                                                   Cause::MailboxFull),
    row(None, &["user unknown", "unknown user", "no such user", "does not exist",
                "recipient not found", "user not found", "unknown recipient"], Cause::UnknownRecipient),
    row(Some("5.1.1"), &[],                                                   Cause::UnknownRecipient),
    row(None, &["relay access denied", "relaying denied", "relay not permitted",
                "unable to relay"],                                           Cause::RelayDenied),
    row(None, &["spam", "content rejected", "message rejected", "policy reasons",
                "unsolicited"],                                               Cause::Spam),
];

/// Classifies a relay's refusal at `hop` (`code` and the text of all lines joined with "\n",
/// each without the code). Never panics, whatever the input.
pub fn classify_delivery(_hop: Hop, code: u16, text: &str) -> Refusal {
    let text = super::capped(text);
    let enhanced = enhanced_code(text);
    let lower = text.to_lowercase();
    let cause = ROWS
        .iter()
        .find(|r| match (r.enhanced, r.words.is_empty()) {
            (Some(e), true) => enhanced == Some(e),
            (_, false) => r.words.iter().any(|w| contains(&lower, w)),
            (None, true) => false,
        })
        .map_or(Cause::Other, |r| r.cause);
    let status = if code / 100 == 4 {
        Status::Warning
    } else {
        Status::Critical
    };
    Refusal {
        status,
        reason: Reason::DeliveryRejected,
        cause,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real replies, each with where it was seen, and the cause it must get. Every row of
    /// [`ROWS`] is hit by at least one (checked below).
    const REPLIES: &[(Hop, u16, &str, Cause)] = &[
        // Exchange Online, a From the account may not send as
        // (https://www.kouhan.cn/en/article/00038744, quoting an Office 365 SMTP AUTH client).
        (Hop::Data, 554, "5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message Cannot submit message", Cause::SendAsDenied),
        (Hop::Data, 554, "5.2.252 SendAsDenied; alerts@contoso.example not allowed to send as boss@contoso.example; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied", Cause::SendAsDenied),
        // Postfix reject_sender_login_mismatch (postconf(5), smtpd_sender_login_maps).
        (Hop::Mail, 553, "5.7.1 <boss@example.com>: Sender address rejected: not owned by user alerts@example.com", Cause::SendAsDenied),
        // Gmail's daily limit (https://www.simplefastwebsites.com/errors/email/smtp-550-5-4-5-daily-sending-quota-exceeded-gmail/).
        (Hop::Mail, 550, "5.4.5 Daily user sending limit exceeded. For more information on Gmail\n5.4.5 sending limits go to\n5.4.5  https://support.google.com/mail/?p=DailyLimitExceeded", Cause::SendingLimit),
        (Hop::Rcpt, 550, "5.4.5 https://support.google.com/mail/?p=DailyLimitExceeded", Cause::SendingLimit),
        // Exchange Online's 10,000 recipients a day over SMTP AUTH
        // (https://learn.microsoft.com/en-us/exchange/troubleshoot/send-emails/smtp-submission-improvements).
        (Hop::Data, 554, "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message Cannot submit message.", Cause::SendingLimit),
        // Exchange Online's continuous error throttling
        // (https://learn.microsoft.com/en-us/Exchange/mail-flow-best-practices/continuous-error-throttling-smtp-auth-submissions).
        (Hop::Mail, 550, "5.2.252 Sender throttled due to continuous send as denied errors.", Cause::SendingLimit),
        // A full mailbox (https://email-knowledge.com/bouncecodes/5-2-2; Microsoft's own Sent
        // Items: the smtp-submission-improvements page above).
        (Hop::Rcpt, 552, "5.2.2 Mailbox full", Cause::MailboxFull),
        (Hop::Data, 554, "5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded", Cause::MailboxFull),
        (Hop::Rcpt, 452, "4.2.2 The email account that you tried to reach is over quota. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp", Cause::MailboxFull),
        // Gmail's newer wording, which names neither "full" nor "quota": the code decides.
        (Hop::Rcpt, 552, "5.2.2 The recipient's inbox is out of storage space and inactive.\n5.2.2 Please direct the recipient to\n5.2.2  https://support.google.com/mail/?p=OverQuotaPerm", Cause::MailboxFull),
        (Hop::Rcpt, 452, "4.2.2 The recipient's inbox is out of storage space.\n4.2.2 Please direct the recipient to\n4.2.2  https://support.google.com/mail/?p=OverQuotaTemp", Cause::MailboxFull),
        // Postfix (the harness answers exactly this) and generic unknown users.
        (Hop::Rcpt, 550, "5.1.1 <nobody@mail.test>: Recipient address rejected: User unknown in virtual mailbox table", Cause::UnknownRecipient),
        // Exchange Online's resolver, in words no row knows: the code decides.
        (Hop::Rcpt, 550, "5.1.1 RESOLVER.ADR.RecipNotFound; not found", Cause::UnknownRecipient),
        // Gmail.
        (Hop::Rcpt, 550, "5.1.1 The email account that you tried to reach does not exist. Please try\n5.1.1 double-checking the recipient's email address for typos or\n5.1.1 unnecessary spaces.", Cause::UnknownRecipient),
        // Postfix relay policy (https://www.antionline.com/showthread.php?mode=threaded&p=692064).
        (Hop::Rcpt, 554, "5.7.1 <a@b.example>: Recipient address rejected: Relay access denied", Cause::RelayDenied),
        // Content refused (https://verifyrhq.com/blog/debugging-554-571-content-rejected-suspected-spam-for-verification).
        (Hop::Data, 554, "5.7.1 Content rejected - suspected spam", Cause::Spam),
        (Hop::Data, 451, "4.7.1 Try again later", Cause::Other),
    ];

    #[test]
    fn real_refusals_get_their_cause_and_status() {
        for (hop, code, text, cause) in REPLIES {
            let r = classify_delivery(*hop, *code, text);
            assert_eq!(r.cause, *cause, "{code} {text}");
            assert_eq!(r.reason, Reason::DeliveryRejected);
            let want = if code / 100 == 4 {
                Status::Warning
            } else {
                Status::Critical
            };
            assert_eq!(r.status, want, "{code} {text}");
        }
    }

    #[test]
    fn every_row_is_hit() {
        for (i, row) in ROWS.iter().enumerate() {
            let hit = REPLIES.iter().any(|(_, _, text, _)| {
                let lower = text.to_lowercase();
                let e = enhanced_code(text);
                match (row.enhanced, row.words.is_empty()) {
                    (Some(c), true) => {
                        e == Some(c)
                            && !ROWS[..i]
                                .iter()
                                .any(|r| r.words.iter().any(|w| contains(&lower, w)))
                    }
                    _ => row.words.iter().any(|w| contains(&lower, w)),
                }
            });
            assert!(hit, "row {i} ({:?}) has no real reply", row.cause);
        }
    }

    #[test]
    fn every_cause_but_other_has_advice_in_both_languages() {
        for cause in [
            Cause::SendAsDenied,
            Cause::SendingLimit,
            Cause::UnknownRecipient,
            Cause::MailboxFull,
            Cause::RelayDenied,
            Cause::Spam,
        ] {
            let en = cause.remediation(Locale::En).unwrap();
            let ja = cause.remediation(Locale::Ja).unwrap();
            assert!(en.len() > 60 && en.is_ascii(), "{cause:?}");
            assert!(
                ja.chars().any(|c| matches!(c, '\u{3040}'..='\u{30ff}')),
                "{cause:?}"
            );
        }
        assert!(Cause::Other.remediation(Locale::En).is_none());
    }

    #[test]
    fn odd_input_does_not_panic() {
        for text in ["", "\u{0}", "5.", "é5.2.2 x", &"x".repeat(100_000)] {
            let _ = classify_delivery(Hop::Data, 0, text);
        }
    }
}
