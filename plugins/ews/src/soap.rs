//! The SOAP side of the EWS check: the `GetFolder` request it sends and what the answer's
//! `ResponseClass`, `ResponseCode`, message and server version say.

use mailbeat_sdk::{Reason, Status};

/// The `GetFolder` request for the inbox (IdOnly: the cheapest shape), with
/// `ExchangeImpersonation` when a mailbox is impersonated.
pub fn get_folder_request(impersonate: Option<&str>) -> String {
    let header = match impersonate {
        Some(address) => format!(
            "<soap:Header><t:RequestServerVersion Version=\"Exchange2013\"/><t:ExchangeImpersonation>\
             <t:ConnectingSID><t:PrimarySmtpAddress>{}</t:PrimarySmtpAddress></t:ConnectingSID>\
             </t:ExchangeImpersonation></soap:Header>",
            xml_escape(address)
        ),
        None => "<soap:Header><t:RequestServerVersion Version=\"Exchange2013\"/></soap:Header>"
            .to_string(),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\" \
         xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\">{header}\
         <soap:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>\
         <m:FolderIds><t:DistinguishedFolderId Id=\"inbox\"/></m:FolderIds></m:GetFolder>\
         </soap:Body></soap:Envelope>"
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What an EWS `ResponseCode` means: status, reason and what to do.
pub fn soap_reason(code: &str, impersonate: Option<&str>) -> (Status, Reason, String) {
    let who = impersonate.unwrap_or("the mailbox");
    let c = Status::Critical;
    match code {
        "ErrorImpersonateUserDenied" | "ErrorImpersonationDenied" => (
            c,
            Reason::ConfigError,
            format!(
                "The account logged in but may not impersonate {who}: grant it the \
                 ApplicationImpersonation role (New-ManagementRoleAssignment -Role \
                 ApplicationImpersonation -User ACCOUNT), scoped to the migrated mailboxes"
            ),
        ),
        "ErrorImpersonationFailed" => (
            c,
            Reason::ConfigError,
            format!("Impersonating {who} failed: check the address and the account's rights"),
        ),
        "ErrorNonExistentMailbox" | "ErrorMailboxNotFound" => (
            c,
            Reason::ConfigError,
            format!("There is no mailbox {who}: check the address (impersonate) or the account"),
        ),
        "ErrorAccessDenied" | "ErrorNoRespondingCASInDestinationSite" => (
            c,
            Reason::AuthProtocolDisabled,
            "EWS refused access for this account: check EWS access policies (EwsEnabled, \
             EwsApplicationAccessPolicy) for the account and organization"
                .to_string(),
        ),
        "ErrorAccountDisabled" => (
            c,
            Reason::AuthAccountLocked,
            "The account is disabled: enable it in Active Directory".to_string(),
        ),
        "ErrorPasswordExpired" | "ErrorPasswordChangeRequired" => (
            c,
            Reason::AuthBadCredentials,
            "The account's password has expired: set a new one and update the secret file"
                .to_string(),
        ),
        "ErrorServerBusy" | "ErrorTooManyObjectsOpened" => (
            Status::Warning,
            Reason::RateLimited,
            "Exchange is throttling this account: check its throttling policy".to_string(),
        ),
        "ErrorMailboxMoveInProgress"
        | "ErrorMailboxStoreUnavailable"
        | "ErrorConnectionFailed"
        | "ErrorInternalServerTransientError" => (
            Status::Warning,
            Reason::ServerUnavailable,
            "The mailbox is not available at the moment (a move or a database failover?)"
                .to_string(),
        ),
        _ => (c, Reason::ProtocolError, String::new()),
    }
}

/// The text of the first element whose local name is `name` (`<m:ResponseCode>X</…>`), read
/// leniently: Exchange's answers are machine-written, and only a few leaf elements matter.
pub(crate) fn element<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = body[from..].find(name).map(|i| i + from) {
        from = i + name.len();
        let Some(lt) = body[..i].rfind('<') else {
            continue;
        };
        let prefix = &body[lt + 1..i];
        let prefix_ok = prefix.is_empty()
            || prefix.strip_suffix(':').is_some_and(|p| {
                p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
        let rest = &body[from..];
        if prefix_ok && (rest.starts_with('>') || rest.starts_with(' ')) {
            let gt = rest.find('>')?;
            if rest[..gt].ends_with('/') {
                return Some("");
            }
            return rest[gt + 1..].split('<').next().map(str::trim);
        }
    }
    None
}

/// The EWS response code of a response message or a SOAP fault's detail.
pub fn response_code(body: &str) -> Option<&str> {
    element(body, "ResponseCode").filter(|c| !c.is_empty())
}

/// `ResponseClass` of the first response message (`Success`, `Warning`, `Error`).
pub(crate) fn response_class(body: &str) -> Option<&str> {
    let i = body.find("ResponseClass=\"")? + "ResponseClass=\"".len();
    body[i..].split('"').next()
}

/// The server's own words: `MessageText`, or a fault's `faultstring`.
pub(crate) fn message_text(body: &str) -> Option<String> {
    element(body, "MessageText")
        .or_else(|| element(body, "faultstring"))
        .map(|t| t.chars().take(300).collect())
}

/// `ServerVersionInfo` of a SOAP header, as `15.2.1258.12`.
pub(crate) fn server_version(body: &str) -> Option<String> {
    let i = body.find("ServerVersionInfo")?;
    let tag = body[i..].split('>').next()?;
    let attr = |name: &str| {
        let key = format!("{name}=\"");
        let j = tag.find(&key)? + key.len();
        tag[j..].split('"').next()
    };
    Some(format!(
        "{}.{}.{}.{}",
        attr("MajorVersion")?,
        attr("MinorVersion")?,
        attr("MajorBuildNumber")?,
        attr("MinorBuildNumber")?
    ))
}
