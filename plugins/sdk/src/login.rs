//! Login names as Exchange and Microsoft 365 write them, and the migration-domain rule.
//!
//! A login is `account@maildomain` (a UPN, Microsoft 365 and most servers), `LOGINDOMAIN\account`
//! (an on-premises Windows logon) or both at once, `LOGINDOMAIN\account@maildomain`, the form
//! on-premises Exchange impersonation and migration accounts are written in when the Windows
//! login domain is not the mail domain. The agent (`migration_domain:` on a target) and the `ews`
//! plugin (its `impersonate` option) read them with the same rules, here.

/// A login name split into its parts. Nothing is lower-cased: compare with [`same_domain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Login<'a> {
    /// `CORP` of `CORP\alice` or `CORP\alice@example.com`.
    pub login_domain: Option<&'a str>,
    /// `alice`.
    pub account: &'a str,
    /// `example.com` of `alice@example.com` or `CORP\alice@example.com`.
    pub mail_domain: Option<&'a str>,
}

impl<'a> Login<'a> {
    /// Splits `name`; `None` when a part is empty or a separator repeats (`a\b\c`, `a@b@c`).
    pub fn parse(name: &'a str) -> Option<Login<'a>> {
        let name = name.trim();
        let (login_domain, rest) = match name.split_once('\\') {
            Some((d, rest)) => (Some(d), rest),
            None => (None, name),
        };
        let (account, mail_domain) = match rest.split_once('@') {
            Some((a, d)) => (a, Some(d)),
            None => (rest, None),
        };
        let parts = [Some(account), login_domain, mail_domain];
        let bad =
            |p: &str| p.is_empty() || p.contains(['\\', '@']) || p.contains(char::is_whitespace);
        if parts.iter().flatten().any(|p| bad(p)) {
            return None;
        }
        Some(Login {
            login_domain,
            account,
            mail_domain,
        })
    }

    /// The mailbox address, `account@maildomain`, when the login has a mail domain.
    pub fn address(&self) -> Option<String> {
        self.mail_domain.map(|d| format!("{}@{d}", self.account))
    }
}

/// True when two DNS domains are the same: ASCII case-insensitive, a trailing dot ignored.
pub fn same_domain(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// True when a Windows login domain stands for `mail_domain`: the same DNS name, or its NetBIOS
/// form (the first label: `EXAMPLE` for `example.com`).
pub fn login_domain_matches(login_domain: &str, mail_domain: &str) -> bool {
    let first_label = mail_domain.split('.').next().unwrap_or(mail_domain);
    same_domain(login_domain, mail_domain) || login_domain.eq_ignore_ascii_case(first_label)
}

/// Why `username` is not an account of `migration_domain`, with what the admin must do; `None`
/// when it is (`user@domain`, or `logindomain\account@domain` for on-premises Exchange).
pub fn migration_domain_problem(username: &str, migration_domain: &str) -> Option<String> {
    let Some(login) = Login::parse(username) else {
        return Some(format!(
            "{username:?} is not a login name: write account@{migration_domain}, or \
             LOGINDOMAIN\\account@{migration_domain} for an on-premises Exchange account"
        ));
    };
    match login.mail_domain {
        Some(d) if same_domain(d, migration_domain) => None,
        Some(d) => Some(format!(
            "{username:?} is in domain {d}, not the migration domain {migration_domain}: this is \
             the classic migration failure, a Microsoft 365 admin (or migration account) of another \
             domain, often the tenant's *.onmicrosoft.com, has no rights on the mailboxes of \
             {migration_domain}; use an admin or migration account in {migration_domain} \
             (e.g. migration-admin@{migration_domain}) with the ApplicationImpersonation role or \
             full access to the mailboxes, or correct migration_domain"
        )),
        None => Some(format!(
            "{username:?} has no mail domain, so it cannot be checked against the migration domain \
             {migration_domain}: write it as account@{migration_domain}, or, for on-premises \
             Exchange when the login domain differs, LOGINDOMAIN\\account@{migration_domain}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        let l = Login::parse("CORP\\alice@Example.com").unwrap();
        assert_eq!(l.login_domain, Some("CORP"));
        assert_eq!(l.account, "alice");
        assert_eq!(l.mail_domain, Some("Example.com"));
        assert_eq!(l.address().as_deref(), Some("alice@Example.com"));
        let l = Login::parse("alice@example.com").unwrap();
        assert_eq!((l.login_domain, l.mail_domain), (None, Some("example.com")));
        let l = Login::parse("CORP\\alice").unwrap();
        assert_eq!((l.login_domain, l.mail_domain), (Some("CORP"), None));
        for bad in [
            "",
            "@example.com",
            "CORP\\",
            "a\\b\\c",
            "a@b@c",
            "\\a@b",
            "a b@c",
        ] {
            assert_eq!(Login::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn migration_domain_rules() {
        assert_eq!(
            migration_domain_problem("a@EXAMPLE.com.", "example.com"),
            None
        );
        assert_eq!(
            migration_domain_problem("CORP\\svc@example.com", "example.com"),
            None
        );
        let m = migration_domain_problem("admin@contoso.onmicrosoft.com", "example.com").unwrap();
        assert!(m.contains("classic migration failure"), "{m}");
        assert!(m.contains("Microsoft 365 admin"), "{m}");
        assert!(migration_domain_problem("CORP\\svc", "example.com").is_some());
        assert!(migration_domain_problem("CORP\\svc@corp.local", "example.com").is_some());
    }

    #[test]
    fn login_domain_in_netbios_or_dns_form() {
        assert!(login_domain_matches("EXAMPLE", "example.com"));
        assert!(login_domain_matches("example.com", "Example.COM"));
        assert!(!login_domain_matches("CORP", "example.com"));
    }
}
