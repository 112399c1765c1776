//! The delivery probe's fallbacks that the harness's Dovecot (SPECIAL-USE, UIDPLUS) never takes,
//! against an in-process SMTP relay and IMAP server: a junk folder found by its usual name
//! (`Spam`) on a server without SPECIAL-USE, a plain `EXPUNGE` where UIDPLUS is missing, and a
//! left-over probe message of an earlier run deleted with this run's.

use mailbeat_probes::delivery::DeliveryProbe;
use mailbeat_sdk::{
    check_once, Account, Credentials, ProbeContext, Protocol, Reason, Secret, SecretKind, Status,
    Target, TlsMode, Via,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

fn target(name: &str, protocol: Protocol, port: u16, user: &str) -> Target {
    Target {
        name: name.into(),
        protocol: Some(protocol),
        host: "127.0.0.1".into(),
        port: Some(port),
        tls: TlsMode::None,
        tls_server_name: None,
        ca_file: None,
        source_address: None,
        provider: None,
        account: Some(Account {
            username: user.into(),
            mechanism: None,
            oauth: false,
            token_store: false,
        }),
        labels: Default::default(),
        migration_domain: None,
    }
}

fn creds(user: &str) -> Credentials {
    Credentials {
        username: user.into(),
        secret: Secret::new("pw-of-".to_string() + user),
        kind: SecretKind::Password,
    }
}

/// What the fakes share: the message the relay took, and the IMAP commands seen.
#[derive(Default)]
struct Seen {
    message: Option<String>,
    imap: Vec<String>,
}

/// A relay that takes AUTH PLAIN and every message; it keeps the last one.
async fn relay(seen: Arc<Mutex<Seen>>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut r = BufReader::new(r);
                w.write_all(b"220 relay.test ESMTP\r\n").await.unwrap();
                let mut line = String::new();
                for _ in 0..100 {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_ascii_uppercase();
                    let answer = if cmd.starts_with("EHLO") {
                        "250-relay.test\r\n250 AUTH PLAIN"
                    } else if cmd.starts_with("AUTH") {
                        "235 2.7.0 ok"
                    } else if cmd == "DATA" {
                        w.write_all(b"354 go ahead\r\n").await.unwrap();
                        let mut message = String::new();
                        loop {
                            line.clear();
                            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" {
                                break;
                            }
                            message.push_str(&line);
                        }
                        seen.lock().unwrap().message = Some(message);
                        "250 2.0.0 Ok: queued as FAKE1"
                    } else if cmd == "QUIT" {
                        "221 bye"
                    } else {
                        "250 ok"
                    };
                    w.write_all(format!("{answer}\r\n").as_bytes())
                        .await
                        .unwrap();
                }
            });
        }
    });
    port
}

/// An IMAP server without SPECIAL-USE or UIDPLUS. INBOX holds a left-over probe message of the
/// same target (UID 3); `Spam` holds whatever the relay took (UID 7).
async fn mailbox(seen: Arc<Mutex<Seen>>, leftover: String) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let seen = seen.clone();
            let leftover = leftover.clone();
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut r = BufReader::new(r);
                w.write_all(b"* OK [CAPABILITY IMAP4rev1 LITERAL+] fake ready\r\n")
                    .await
                    .unwrap();
                let mut selected = String::new();
                let mut expunged_inbox = false;
                let mut line = String::new();
                for _ in 0..400 {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end().to_string();
                    let (tag, cmd) = line.split_once(' ').unwrap_or((&line, ""));
                    seen.lock().unwrap().imap.push(cmd.to_string());
                    let upper = cmd.to_ascii_uppercase();
                    let mut out = String::new();
                    if upper.starts_with("LOGIN") {
                        out.push_str(&format!("{tag} OK logged in\r\n"));
                    } else if upper.starts_with("LIST") {
                        out.push_str("* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n");
                        out.push_str("* LIST (\\HasNoChildren) \"/\" \"Spam\"\r\n");
                        out.push_str(&format!("{tag} OK done\r\n"));
                    } else if upper.starts_with("SELECT") {
                        selected = cmd[7..].trim_matches('"').to_string();
                        out.push_str(&format!("* 1 EXISTS\r\n{tag} OK [READ-WRITE] selected\r\n"));
                    } else if upper.starts_with("UID SEARCH") {
                        let message = seen.lock().unwrap().message.clone();
                        let hit = match selected.as_str() {
                            "INBOX" if !expunged_inbox => " 3",
                            "Spam" if message.is_some() => " 7",
                            _ => "",
                        };
                        out.push_str(&format!("* SEARCH{hit}\r\n{tag} OK done\r\n"));
                    } else if upper.starts_with("UID FETCH") {
                        let header = if selected == "INBOX" {
                            format!("X-Mailbeat-Probe: {leftover}\r\n\r\n")
                        } else {
                            let m = seen.lock().unwrap().message.clone().unwrap_or_default();
                            m.split("\r\n\r\n").next().unwrap_or("").to_string() + "\r\n\r\n"
                        };
                        let uid = if selected == "INBOX" { 3 } else { 7 };
                        out.push_str(&format!(
                            "* 1 FETCH (UID {uid} BODY[HEADER] {{{}}}\r\n{header})\r\n{tag} OK done\r\n",
                            header.len()
                        ));
                    } else if upper == "EXPUNGE" {
                        if selected == "INBOX" {
                            expunged_inbox = true;
                        }
                        out.push_str(&format!("* 1 EXPUNGE\r\n{tag} OK done\r\n"));
                    } else if upper.starts_with("LOGOUT") {
                        out.push_str(&format!("* BYE bye\r\n{tag} OK done\r\n"));
                        let _ = w.write_all(out.as_bytes()).await;
                        return;
                    } else {
                        out.push_str(&format!("{tag} OK done\r\n"));
                    }
                    if w.write_all(out.as_bytes()).await.is_err() {
                        return;
                    }
                }
                let _ = r.read_to_end(&mut Vec::new()).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn junk_by_its_usual_name_plain_expunge_and_left_overs_deleted() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let relay_target_name = "fake-relay";
    // A probe id an earlier run of this target left behind (its prefix is the target's).
    let leftover = format!(
        "{}1-00000000",
        mailbeat_probes::delivery::message::id_prefix(relay_target_name)
    );
    let smtp = relay(seen.clone()).await;
    let imap = mailbox(seen.clone(), leftover).await;
    let relay = target(relay_target_name, Protocol::Smtp, smtp, "alerts@mail.test");
    let inbox = target("fake-inbox", Protocol::Imap, imap, "oncall@mail.test");
    let mut ctx = ProbeContext::new(
        Duration::from_secs(20),
        Arc::new(rustls::RootCertStore::empty()),
    )
    .with_credentials(creds("alerts@mail.test"));
    ctx.via = Some(Via {
        target: inbox,
        credentials: Some(creds("oncall@mail.test")),
        roots: Arc::new(rustls::RootCertStore::empty()),
    });
    let options =
        serde_json::json!({"to": "oncall@mail.test", "via": "fake-inbox", "within": "5s"});
    let r = check_once(&DeliveryProbe, &relay, &options, &ctx).await;
    assert_eq!(r.status, Status::Warning, "{r:?}");
    assert_eq!(r.reason, Some(Reason::DeliveryJunk), "{r:?}");
    assert_eq!(r.details["junk_folder"], "Spam", "{r:?}");
    assert_eq!(r.details["mailbox"], "Spam", "{r:?}");
    assert_eq!(r.details["deleted"], 2, "this one and the left-over: {r:?}");
    let commands = seen.lock().unwrap().imap.clone();
    assert!(
        commands.iter().any(|c| c == "LIST \"\" \"*\""),
        "{commands:?}"
    );
    assert!(
        !commands
            .iter()
            .any(|c| c.contains("SPECIAL-USE") || c.starts_with("UID EXPUNGE")),
        "no extension the server does not offer: {commands:?}"
    );
    assert_eq!(
        commands.iter().filter(|c| *c == "EXPUNGE").count(),
        2,
        "{commands:?}"
    );
    let message = seen.lock().unwrap().message.clone().unwrap();
    assert!(
        !message.contains("pw-of-"),
        "no password in the message: {message}"
    );
    assert!(
        !format!("{r:?}").contains("pw-of-"),
        "no password in the result"
    );
}
