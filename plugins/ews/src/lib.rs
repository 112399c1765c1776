//! `ews`: can this account still use an on-premises Exchange's EWS endpoint, and if not, why.
//!
//! One check, top to bottom:
//! 1. **configure** (load time, so `mailbeat validate` reports it): the URL, and the
//!    impersonation account's format. When the login domain differs from the mail domain, Exchange
//!    wants `logindomain\account@maildomain`; a target's `migration_domain` must match the
//!    impersonated mailbox's domain too (the rules live in [`mailbeat_sdk::login`]).
//! 2. **reach** the URL over TLS verified with the target's roots. A refused chain is named by
//!    the shared verdict code ([`mailbeat_probes::tls::client::VerifiedTls`]), as the `tls`
//!    probe names it.
//! 3. **ask** without credentials: the `401`'s `WWW-Authenticate` says what is offered. Basic is
//!    spoken; a server offering only NTLM/Negotiate is `auth_mechanism_unsupported` with a message
//!    that says so (NTLM is not implemented: no NTLM crate has been vetted for it yet, and a
//!    hand-written NTLM is not an option).
//! 4. **log in** with Basic and a cheap `GetFolder` of the inbox (with `ExchangeImpersonation`
//!    when `impersonate` is set): `401` → `auth_bad_credentials`; a `Success` response message →
//!    ok; an EWS error code → its reason ([`soap_reason`]).
//!
//! Every step is bounded by the check's deadline. The password goes only into the
//! `Authorization` header: no message, detail or log line carries it.

// No unsafe code of its own: the one unsafe part, the C ABI, is the SDK's `export_plugin!`
// (its expansion allows `unsafe_code` where it must).
#![deny(unsafe_code)]

mod soap;

use mailbeat_probes::tls::client::VerifiedTls;
use mailbeat_probes::Failure;
use mailbeat_sdk::login::{self, Login};
use mailbeat_sdk::{
    parse_options, Check, CheckResult, CredentialVerdict, OptionsError, Probe, ProbeContext,
    Reason, Status, Target, TlsMode,
};
use reqwest::header::{HeaderMap, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::StatusCode;
use serde::Deserialize;
pub use soap::{get_folder_request, response_code, soap_reason};
use soap::{message_text, response_class, server_version};
use std::sync::Arc;
use std::time::Duration;

/// The most of a response body read (a GetFolder answer is ~1.5 KiB; an error page a few KiB).
const MAX_BODY: usize = 256 * 1024;

/// The `ews` probe.
#[derive(Debug, Default, Clone, Copy)]
pub struct EwsProbe;

/// Options: `{plugin: ews, url: "https://host/EWS/Exchange.asmx", impersonate: "..."}`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EwsOptions {
    /// The EWS endpoint (default `https://HOST[:PORT]/EWS/Exchange.asmx` of the target).
    pub url: Option<String>,
    /// The mailbox to act as through `ExchangeImpersonation`: `account@maildomain`, or
    /// `logindomain\account@maildomain` when the login domain differs from the mail domain.
    pub impersonate: Option<String>,
}

impl Probe for EwsProbe {
    fn name(&self) -> &str {
        "ews"
    }

    fn uses_credentials(&self) -> bool {
        true
    }

    fn configure(
        &self,
        target: &Target,
        options: &serde_json::Value,
    ) -> Result<Arc<dyn Check>, OptionsError> {
        let options: EwsOptions = parse_options(options)?;
        let url = endpoint(target, options.url.as_deref())?;
        let account = target.account.as_ref().ok_or_else(|| {
            OptionsError::new("the ews probe logs in with the target's account: set account")
        })?;
        let impersonate = match &options.impersonate {
            Some(i) => Some(impersonation(i, &account.username, target)?),
            None => None,
        };
        Ok(Arc::new(EwsCheck { url, impersonate }))
    }
}

// The dynamic-plugin entry point (`mailbeat_plugin`, SDK ABI): drop the built
// `libmailbeat_plugin_ews.so` into `plugins.dir`.
mailbeat_sdk::export_plugin!(EwsProbe::default);

/// The URL to check: given (https, or http for a lab), or built from the target.
fn endpoint(target: &Target, given: Option<&str>) -> Result<reqwest::Url, OptionsError> {
    let text = match given {
        Some(u) => u.to_string(),
        None => {
            let scheme = if target.tls == TlsMode::None {
                "http"
            } else {
                "https"
            };
            format!("{scheme}://{}/EWS/Exchange.asmx", target.address())
        }
    };
    let url = reqwest::Url::parse(&text)
        .map_err(|e| OptionsError::new(format!("url {text:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(OptionsError::new(format!(
            "url {text:?} must be https://HOST/EWS/Exchange.asmx"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(OptionsError::new(
            "url must not carry credentials: the ews probe logs in with the target's account",
        ));
    }
    Ok(url)
}

/// Checks the impersonation account's format and returns the mailbox address to impersonate.
///
/// `account@maildomain` is fine when the login domain (of `impersonate` itself, else of the
/// account that logs in) is the mail domain; otherwise it must be written
/// `logindomain\account@maildomain`. With `migration_domain`, the mailbox must be in it.
fn impersonation(
    impersonate: &str,
    username: &str,
    target: &Target,
) -> Result<String, OptionsError> {
    let form = "write it as account@maildomain, or logindomain\\account@maildomain when the \
                Windows login domain differs from the mail domain";
    let login = Login::parse(impersonate).ok_or_else(|| {
        OptionsError::new(format!(
            "impersonate {impersonate:?} is not an account name: {form}"
        ))
    })?;
    let Some(mail_domain) = login.mail_domain else {
        return Err(OptionsError::new(format!(
            "impersonate {impersonate:?} has no mail domain (ExchangeImpersonation names the \
             mailbox by its SMTP address): {form}, e.g. {}\\{}@example.com",
            login.login_domain.unwrap_or("LOGINDOMAIN"),
            login.account
        )));
    };
    if login.login_domain.is_none() {
        // The login domain is the logging-in account's, when it says one.
        let logs_in = Login::parse(username);
        let login_domain = logs_in.and_then(|l| l.login_domain.or(l.mail_domain));
        if let Some(ld) = login_domain.filter(|ld| !login::login_domain_matches(ld, mail_domain)) {
            return Err(OptionsError::new(format!(
                "impersonate {impersonate:?}: the login domain {ld} (of account {username:?}) \
                 differs from the mail domain {mail_domain}, so Exchange cannot tell which \
                 account is meant; write it as {ld}\\{}@{mail_domain}",
                login.account
            )));
        }
    }
    if let Some(domain) = &target.migration_domain {
        if let Some(problem) = login::migration_domain_problem(impersonate, domain) {
            return Err(OptionsError::new(format!("impersonate: {problem}")));
        }
    }
    Ok(login.address().unwrap_or_default())
}

/// One configured `ews` check.
#[derive(Debug)]
struct EwsCheck {
    url: reqwest::Url,
    /// The SMTP address of the mailbox to impersonate.
    impersonate: Option<String>,
}

#[async_trait::async_trait]
impl Check for EwsCheck {
    async fn run(&self, target: &Target, ctx: &ProbeContext) -> CheckResult {
        match self.check(target, ctx).await {
            Ok(result) => result,
            Err(f) => f.into(),
        }
        .detail("url", self.url.as_str())
    }
}

/// What one POST brought back.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl EwsCheck {
    async fn check(&self, target: &Target, ctx: &ProbeContext) -> Result<CheckResult, Failure> {
        let Some(credentials) = ctx.credentials.as_ref() else {
            return Err(Failure::new(
                Status::Unknown,
                Reason::ConfigError,
                "no credentials for the account (its secret could not be read)",
            ));
        };
        let tls = VerifiedTls::new(ctx);
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls.config().clone())
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(ctx.remaining())
            .user_agent(concat!("mailbeat-ews/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::critical(Reason::InternalError, format!("HTTP client: {e}")))?;
        let body = get_folder_request(self.impersonate.as_deref());

        // 1. Without credentials: what does the server offer?
        let first = self.post(&client, &body, None, &tls, target, ctx).await?;
        let offered = schemes(&first.headers);
        let answer = if first.status == StatusCode::UNAUTHORIZED {
            if !offered.iter().any(|s| s.eq_ignore_ascii_case("basic")) {
                return Err(unsupported(&offered));
            }
            // 2. Basic with the account.
            let login = (credentials.username.as_str(), credentials.secret.expose());
            self.post(&client, &body, Some(login), &tls, target, ctx)
                .await?
        } else {
            // Answered without asking for credentials (an anonymous or pre-authenticated proxy).
            first
        };
        let mut result =
            judge(&answer, self.impersonate.as_deref()).detail("auth_offered", &offered);
        if let Some(version) = server_version(&answer.body) {
            result = result.detail("server_version", version);
        }
        Ok(result)
    }

    /// POSTs the SOAP request, under what is left of the deadline, and reads a bounded body.
    async fn post(
        &self,
        client: &reqwest::Client,
        body: &str,
        login: Option<(&str, &str)>,
        tls: &VerifiedTls,
        target: &Target,
        ctx: &ProbeContext,
    ) -> Result<Answer, Failure> {
        let mut request = client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "text/xml; charset=utf-8")
            .body(body.to_string());
        if let Some((user, password)) = login {
            request = request.basic_auth(user, Some(password));
        }
        let exchange = async {
            let mut response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut bytes = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                let room = MAX_BODY - bytes.len();
                bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if bytes.len() >= MAX_BODY {
                    break;
                }
            }
            Ok::<_, reqwest::Error>(Answer {
                status,
                headers,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            })
        };
        let remaining = ctx.remaining().max(Duration::from_millis(1));
        match tokio::time::timeout(remaining, exchange).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(self.name_error(&e, tls, target, ctx)),
            Err(_) => Err(Failure::critical(
                Reason::ServerTimeout,
                format!("no EWS answer from {} before the deadline", self.url),
            )),
        }
    }

    /// Names a failed request: TLS through the shared verdict, else the connect step.
    fn name_error(
        &self,
        e: &reqwest::Error,
        tls: &VerifiedTls,
        target: &Target,
        ctx: &ProbeContext,
    ) -> Failure {
        // The certificate must be valid for the URL's host, whatever the target's host says.
        let mut at = target.clone();
        at.host = self.url.host_str().unwrap_or_default().to_string();
        at.tls_server_name = None;
        if let Some(f) = tls.name_failure(e, &at, ctx) {
            return f;
        }
        let text = chain_text(e);
        let reason = if e.is_timeout() {
            if e.is_connect() {
                Reason::ConnectionTimeout
            } else {
                Reason::ServerTimeout
            }
        } else if text.contains("dns error") || text.contains("failed to lookup address") {
            Reason::DnsFailure
        } else if text.contains("Connection refused") {
            Reason::ConnectionRefused
        } else if text.contains("unreachable") {
            Reason::NetworkUnreachable
        } else if e.is_connect() {
            Reason::ConnectionRefused
        } else {
            Reason::ProtocolError
        };
        Failure::critical(reason, format!("{}: {text}", self.url))
    }
}

/// An error and its causes, one line.
fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cause = e.source();
    while let Some(c) = cause {
        let t = c.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cause = c.source();
    }
    parts.join(": ")
}

/// The schemes of every `WWW-Authenticate` header (`Basic realm="x"` → `Basic`), in order.
pub fn schemes(headers: &HeaderMap) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in headers.get_all(WWW_AUTHENTICATE) {
        let Ok(text) = value.to_str() else { continue };
        // One header may list several challenges: `Negotiate, NTLM` or `Basic realm="a, b"`.
        for part in split_challenges(text) {
            let scheme = part.split_whitespace().next().unwrap_or_default();
            if !scheme.is_empty() && !scheme.contains('=') && !out.iter().any(|s| s == scheme) {
                out.push(scheme.to_string());
            }
        }
    }
    out
}

/// Splits a header value at the commas outside quotes.
fn split_challenges(text: &str) -> Vec<&str> {
    let (mut parts, mut start, mut quoted) = (Vec::new(), 0, false);
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts
}

/// Only Windows-integrated (or no known) authentication is offered.
fn unsupported(offered: &[String]) -> Failure {
    let list = if offered.is_empty() {
        "nothing".to_string()
    } else {
        offered.join(", ")
    };
    Failure::critical(
        Reason::AuthMechanismUnsupported,
        format!(
            "the EWS endpoint offers only {list} (WWW-Authenticate); the ews plugin speaks Basic \
             only, NTLM and Negotiate (Kerberos) are not supported: enable Basic authentication on \
             the EWS virtual directory (Set-WebServicesVirtualDirectory -BasicAuthentication \
             $true, over TLS only), or publish EWS through a proxy that accepts Basic"
        ),
    )
}

/// Turns the answer to the authenticated request into a result.
fn judge(answer: &Answer, impersonate: Option<&str>) -> CheckResult {
    let status = answer.status;
    if status == StatusCode::UNAUTHORIZED {
        return CheckResult::critical(
            Reason::AuthBadCredentials,
            "the EWS endpoint refused the account's user name or password (HTTP 401 after Basic \
             authentication)",
        )
        .observe("auth_success", 0.0)
        .with_credential(CredentialVerdict::Rejected);
    }
    // A SOAP answer (200 with response messages, or 500 with a fault) names itself.
    if let Some(code) = response_code(&answer.body) {
        if code == "NoError" && response_class(&answer.body) == Some("Success") {
            let who = impersonate.map(|a| format!(" as {a}")).unwrap_or_default();
            return CheckResult::ok(format!("EWS GetFolder (inbox){who} succeeded"))
                .observe("auth_success", 1.0)
                .with_credential(CredentialVerdict::Accepted);
        }
        let text = message_text(&answer.body).unwrap_or_default();
        let (status, reason, advice) = soap_reason(code, impersonate);
        return CheckResult::fail(
            status,
            reason,
            format!("EWS {code}: {text} {advice}").trim_end(),
        )
        .detail("ews_response_code", code)
        .observe("auth_success", 1.0)
        .with_credential(CredentialVerdict::Accepted);
    }
    let (reason, what) = match status.as_u16() {
        200..=299 => (
            Reason::ProtocolError,
            "an answer without an EWS response message",
        ),
        300..=399 => (
            Reason::AuthWebLoginRequired,
            "a redirect (forms-based login in front of EWS?)",
        ),
        403 => (
            Reason::AuthProtocolDisabled,
            "403 Forbidden: EWS is disabled for this account or organization (EwsEnabled), or \
             the virtual directory refuses it",
        ),
        404 => (
            Reason::ConfigError,
            "404 Not Found: check the url (…/EWS/Exchange.asmx)",
        ),
        429 => (
            Reason::RateLimited,
            "429 Too Many Requests (EWS throttling)",
        ),
        500..=599 => (Reason::ServerUnavailable, "a server error"),
        _ => (Reason::ProtocolError, "an unexpected HTTP status"),
    };
    let result = CheckResult::critical(reason, format!("EWS answered HTTP {status}: {what}"));
    match status.as_u16() {
        403 => result.with_credential(CredentialVerdict::Unusable),
        _ => result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailbeat_sdk::Account;
    use reqwest::header::HeaderValue;

    fn target(username: &str, migration_domain: Option<&str>) -> Target {
        Target {
            name: "ews".into(),
            protocol: None,
            host: "mail.example.com".into(),
            port: None,
            tls: TlsMode::Implicit,
            tls_server_name: None,
            ca_file: None,
            source_address: None,
            provider: None,
            account: Some(Account {
                username: username.into(),
                mechanism: None,
                oauth: false,
                token_store: false,
            }),
            labels: Default::default(),
            migration_domain: migration_domain.map(str::to_string),
        }
    }

    fn configure(username: &str, impersonate: &str, md: Option<&str>) -> Result<(), String> {
        let options = serde_json::json!({"impersonate": impersonate});
        EwsProbe
            .validate(&target(username, md), &options)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_impersonation_account_format_is_checked_at_load() {
        // Same login and mail domain, or the login domain written out: fine.
        configure("svc@example.com", "alice@example.com", None).unwrap();
        configure("EXAMPLE\\svc", "alice@example.com", None).unwrap();
        configure("CORP\\svc", "CORP\\alice@example.com", None).unwrap();
        configure(
            "svc@corp.local",
            "CORP\\alice@example.com",
            Some("example.com"),
        )
        .unwrap();

        let e = configure("CORP\\svc", "alice@example.com", None).unwrap_err();
        assert!(e.contains("the login domain CORP"), "{e}");
        assert!(e.contains("write it as CORP\\alice@example.com"), "{e}");
        let e = configure("svc@corp.local", "alice@example.com", None).unwrap_err();
        assert!(
            e.contains("write it as corp.local\\alice@example.com"),
            "{e}"
        );
        let e = configure("svc@example.com", "CORP\\alice", None).unwrap_err();
        assert!(e.contains("has no mail domain"), "{e}");
        let e = configure("svc@example.com", "a\\b\\c@example.com", None).unwrap_err();
        assert!(e.contains("is not an account name"), "{e}");
        let e = configure("CORP\\svc", "CORP\\alice@other.com", Some("example.com")).unwrap_err();
        assert!(e.contains("not the migration domain example.com"), "{e}");
    }

    #[test]
    fn url_and_options_are_checked_at_load() {
        let t = target("svc@example.com", None);
        let check = |v: serde_json::Value| EwsProbe.validate(&t, &v).map_err(|e| e.to_string());
        check(serde_json::Value::Null).unwrap();
        assert!(check(serde_json::json!({"url": "ftp://x/"})).is_err());
        assert!(check(serde_json::json!({"url": "https://u:p@x/"}))
            .unwrap_err()
            .contains("credentials"));
        assert!(check(serde_json::json!({"urll": "https://x/"}))
            .unwrap_err()
            .contains("unknown field"));
        let mut no_account = t.clone();
        no_account.account = None;
        assert!(EwsProbe
            .validate(&no_account, &serde_json::Value::Null)
            .is_err());
    }

    #[test]
    fn schemes_are_read_from_every_header() {
        let mut h = HeaderMap::new();
        h.append(WWW_AUTHENTICATE, HeaderValue::from_static("Negotiate"));
        h.append(WWW_AUTHENTICATE, HeaderValue::from_static("NTLM"));
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"a, b\", Bearer"),
        );
        assert_eq!(schemes(&h), ["Negotiate", "NTLM", "Basic", "Bearer"]);
        let f = unsupported(&schemes(&h)[..2]);
        assert_eq!(f.reason, Reason::AuthMechanismUnsupported);
        assert!(f
            .message
            .contains("NTLM and Negotiate (Kerberos) are not supported"));
    }

    const OK: &str = include_str!("../../../tests/harness/templates/ews/getfolder-inbox.xml");
    const DENIED: &str =
        include_str!("../../../tests/harness/templates/ews/impersonate-denied.xml");

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.to_string(),
        }
    }

    #[test]
    fn soap_answers_are_judged() {
        assert_eq!(response_code(OK), Some("NoError"));
        assert_eq!(server_version(OK).as_deref(), Some("15.2.1258.12"));
        let r = judge(&answer(200, OK), None);
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(r.credential, Some(CredentialVerdict::Accepted));

        let r = judge(&answer(500, DENIED), Some("alice@mail.test"));
        assert_eq!(r.reason, Some(Reason::ConfigError));
        assert!(
            r.message.contains("ErrorImpersonateUserDenied"),
            "{}",
            r.message
        );
        assert!(
            r.message.contains("ApplicationImpersonation"),
            "{}",
            r.message
        );

        let error = OK
            .replace("ResponseClass=\"Success\"", "ResponseClass=\"Error\"")
            .replace(">NoError<", ">ErrorNonExistentMailbox<")
            .replace(
                "<m:Folders>",
                "<m:MessageText>No mailbox with such guid.</m:MessageText><m:Folders>",
            );
        let r = judge(&answer(200, &error), Some("bob@mail.test"));
        assert_eq!(r.reason, Some(Reason::ConfigError));
        assert!(
            r.message.contains("No mailbox with such guid."),
            "{}",
            r.message
        );

        let r = judge(&answer(401, ""), None);
        assert_eq!(r.reason, Some(Reason::AuthBadCredentials));
        assert_eq!(r.credential, Some(CredentialVerdict::Rejected));
        assert_eq!(
            judge(&answer(403, ""), None).reason,
            Some(Reason::AuthProtocolDisabled)
        );
        assert_eq!(
            judge(&answer(200, "<html/>"), None).reason,
            Some(Reason::ProtocolError)
        );
        assert_eq!(
            judge(&answer(503, "busy"), None).reason,
            Some(Reason::ServerUnavailable)
        );
    }

    #[test]
    fn the_request_names_the_impersonated_mailbox() {
        let r = get_folder_request(Some("alice@mail.test"));
        assert!(r.contains("<t:PrimarySmtpAddress>alice@mail.test</t:PrimarySmtpAddress>"));
        assert!(r.contains("DistinguishedFolderId Id=\"inbox\""));
        assert!(!get_folder_request(None).contains("ExchangeImpersonation"));
    }
}
