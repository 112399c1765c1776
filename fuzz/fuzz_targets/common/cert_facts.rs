//! What the `tls` probe asks of a parsed certificate, asked of whatever parsed.

use mailbeat_probes::certs::{self, path::issuer_path, rfc3339, CertInfo, San};

/// Parses `der` as the tls probe does and reads every fact it reports from the result.
pub fn exercise(der: &[u8]) {
    let _ = certs::name_content(der);
    let Ok(info) = certs::parse(der) else {
        return;
    };
    let _ = (
        info.is_self_issued(),
        info.is_self_signed(),
        info.short_name(),
    );
    let _ = info.weaknesses();
    let _ = (info.key.weakness(), info.key.to_string());
    let _ = (rfc3339(info.not_before), rfc3339(info.not_after));
    // Its names against itself (wildcards, IPs) and against a few server names.
    let mut names: Vec<String> = info.sans.iter().map(San::to_string).collect();
    names.extend(info.subject_cn.clone());
    names.extend(["mail.test", "a.mail.test", "127.0.0.1", "[::1]:993", ""].map(String::from));
    for name in &names {
        let _ = info.matches_name(name);
    }
    // A chain of the leaf and itself, with and without its issuer as an anchor.
    let chain = [Some(info.clone()), None, Some(info.clone())];
    let _ = issuer_path(&chain, &[]);
    let _ = issuer_path(&chain, &[certs::name_content(der)]);
    let _ = info.is_issuer_of(&info);
    let _: &CertInfo = &info;
}
