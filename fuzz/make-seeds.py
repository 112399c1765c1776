#!/usr/bin/env python3
"""Writes the seed corpus of the text and reply targets (config, probe_query, replies, classify)
into corpus/<target>/seed-*. The certificate seeds come from make-cert-seeds.sh. The server
words are the ones in the probes' tests (plugins/probes/tests, src/classify.rs). Run from
anywhere; rewrites the seeds it owns."""

import base64
import pathlib
import shutil

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = HERE / "corpus"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / f"seed-{name}").write_bytes(data)


def crlf(lines):
    return "".join(l + "\r\n" for l in lines).encode()


# ---- config: the example config and the loader's fixtures -------------------------------------
write("config", "example.yaml", (ROOT / "config/mailbeat.example.yaml").read_text())
testdata = ROOT / "agent/src/config/testdata"
for f in ["valid-presets.yml", "invalid-many.yml", "invalid-cron.yml", "invalid-duration.yml",
          "invalid-probe-option.yml", "invalid-inline-secret.yml", "invalid-ca-file.yml"]:
    write("config", f, (testdata / f).read_text())
write("config", "full.yml", """\
global:
  state_dir: state
  every: 90s
  spread: 30s
  timeout: 20s
  concurrency: 4
  locale: ja
  ehlo_name: probe.example.com
probe_defaults:
  tls: {warn_days: 30, critical_days: 10}
  auth: {backoff: {initial: 10m}}
targets:
  - name: imap-ca
    protocol: imap
    host: "[2001:db8::5]"
    port: 993
    tls: implicit
    tls_server_name: imap.example.com
    ca_file: ca.pem
    system_roots: false
    schedule: "@hourly"
    account: {username: "u@example.com", password_file: pw.txt}
    probes: [port, tls, {auth: {mechanism: plain, confirm: true}}]
    labels: {team: mail, tier: "1"}
  - name: pop3
    protocol: pop3
    host: pop.example.com
    tls: starttls
    schedule: "0 9 * * 1-5"
    account: {username: "u@example.com", password: "${HOME}"}
    probes: [port, auth]
webhooks:
  - name: ops
    url: https://hooks.example.com/mailbeat
    events: [reauth_required, alert_firing]
""")

# ---- probe_query: what Prometheus and people send to /probe --------------------------------
for i, q in enumerate([
    "target=gmail-smtp",
    "target=nas%20gmail&probe=tls",
    "module=mailbeat&target=office365-submission&probe=auth",
    "target=%e3%81%82%zz%&probe=&probe=port",
    "target=a+b&target=c&x&&=&%",
]):
    write("probe_query", f"query-{i}", q)

# ---- replies: byte 0 = protocol (0 SMTP, 1 IMAP, 2 POP3) + 3 * step (0 greeting, 1 greeting
# then STARTTLS, 2 capabilities, 3 an authentication reply); byte 1 = read split (low nibble)
# | provider (high nibble: 1 gmail, 2 office365, 4 netease); then what the server sends.
SMTP, IMAP, POP3 = 0, 1, 2
GREETING, STARTTLS, CAPS, AUTH = 0, 1, 2, 3


def reply_seed(name, protocol, step, split, provider, lines):
    data = bytes([protocol + 3 * step, (split & 0x0F) | (provider << 4)])
    write("replies", name, data + (crlf(lines) if isinstance(lines, list) else lines))


reply_seed("smtp-postfix-starttls", SMTP, STARTTLS, 0, 0, [
    "220 mail.test ESMTP Postfix (Debian/GNU)",
    "250-mail.test", "250-PIPELINING", "250-SIZE 10240000", "250-STARTTLS",
    "250-ENHANCEDSTATUSCODES", "250 8BITMIME",
    "220 2.0.0 Ready to start TLS"])
reply_seed("smtp-gmail-ehlo", SMTP, CAPS, 3, 1, [
    "250-smtp.gmail.com at your service, [203.0.113.5]", "250-SIZE 35882577", "250-8BITMIME",
    "250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH",
    "250-ENHANCEDSTATUSCODES", "250 SMTPUTF8"])
reply_seed("smtp-gmail-xoauth2", SMTP, AUTH, 0, 1, [
    "334 eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==",
    "535-5.7.8 Username and Password not accepted. For more information, go to",
    "535 5.7.8  https://support.google.com/mail/?p=BadCredentials d2sm1234567qkb.12 - gsmtp"])
reply_seed("smtp-gmail-app-password", SMTP, AUTH, 1, 1, [
    "534-5.7.9 Application-specific password required. For more information, go to",
    "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor d2sm1234567qkb.12 - gsmtp"])
reply_seed("smtp-o365-disabled", SMTP, AUTH, 0, 2, [
    "334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6",
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. [BN0PR04CA0001.namprd04.prod.outlook.com]"])
reply_seed("smtp-refused", SMTP, GREETING, 0, 0, ["554 5.3.2 mail.test no service for you"])
reply_seed("smtp-454", SMTP, STARTTLS, 2, 0, [
    "220 mail.test ESMTP", "250-mail.test", "250 STARTTLS",
    "454 4.7.0 TLS not available due to local problem"])
reply_seed("imap-dovecot-starttls", IMAP, STARTTLS, 0, 0, [
    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED] Dovecot ready.",
    "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED",
    "c1 OK Pre-login capabilities listed, post-login capabilities have more.",
    "s1 OK Begin TLS negotiation now."])
reply_seed("imap-exchange-caps", IMAP, CAPS, 4, 2, [
    "* CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+",
    "c1 OK CAPABILITY completed."])
reply_seed("imap-gmail-webalert", IMAP, AUTH, 0, 1, [
    "* NO [WEBALERT https://accounts.google.com/signin/continue?sarp=1&scc=1&plt=AKgnsbsx] Web login required.",
    "a1 NO [ALERT] Please log in via your web browser: https://support.google.com/mail/accounts/answer/78754 (Failure)"])
reply_seed("imap-oauth-400", IMAP, AUTH, 5, 1, [
    "+ eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==",
    "a1 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"])
reply_seed("imap-bye", IMAP, GREETING, 0, 0, ["* BYE too many connections"])
reply_seed("pop3-dovecot-stls", POP3, STARTTLS, 0, 0, [
    "+OK Dovecot ready.", "+OK", "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING",
    "AUTH-RESP-CODE", "STLS", "USER", "SASL PLAIN", ".", "+OK Begin TLS negotiation"])
reply_seed("pop3-no-capa", POP3, STARTTLS, 1, 0, [
    "+OK POP3 server ready", "-ERR unknown command", "+OK"])
reply_seed("pop3-oauth-401", POP3, AUTH, 0, 2, [
    "+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=", "-ERR [AUTH] Authentication failed."])
reply_seed("tls-instead", SMTP, GREETING, 0, 0, b"\x16\x03\x01\x00\xff garbage\r\n")

# ---- classify: byte 0 = kind (0 SMTP, 1 IMAP NO, 2 IMAP BAD, 3 POP3, 4 OAuth JSON, 5 OAuth
# base64; +0x80 for an access token), byte 1 = provider (1 gmail, 2 office365, 4 netease),
# bytes 2-3 = SMTP code, then `secret NUL text`.
def classify_seed(name, kind, provider, code, text, secret=None):
    head = bytes([kind, provider]) + code.to_bytes(2, "big")
    body = (secret.encode() + b"\0" if secret is not None else b"") + text.encode()
    write("classify", name, head + body)


classify_seed("smtp-gmail-badcreds", 0, 1, 535,
              "5.7.8 Username and Password not accepted. Learn more at\n5.7.8 https://support.google.com/mail/?p=BadCredentials d4sm5441686pgf.9 - gsmtp")
classify_seed("smtp-o365-basic-off", 0, 2, 535,
              "5.7.139 Authentication unsuccessful, basic authentication is disabled. [PN0PR01CA0024.INDPRD01.PROD.OUTLOOK.COM 2025-01-26T18:54:30.055Z 08DD3DD7D75D7743]")
classify_seed("smtp-netease", 0, 4, 535, "Error: authentication failed", "web-password")
classify_seed("smtp-echo-secret", 0, 0, 535,
              "5.7.8 bad: hunter2-Pässwort and aHVudGVyMi1Qw6Rzc3dvcnQ= and hunter2-P…", "hunter2-Pässwort")
classify_seed("imap-gmail-alert", 1, 1, 0,
              "[ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)")
classify_seed("imap-bad", 2, 0, 0, "Invalid SASL argument.")
classify_seed("imap-o365", 1, 2, 0, "User is authenticated but not connected.")
classify_seed("pop3-login-delay", 3, 0, 0, "[LOGIN-DELAY] Too many authentication attempts. Please try again later.")
classify_seed("pop3-qq", 3, 0, 0,
              "Login Fail. Please enter your authorization code to login. More information in http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=28&&no=1001256")
classify_seed("oauth-json", 0x84, 1, 0,
              '{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}', "ya29.token")
classify_seed("oauth-b64", 0x85, 0, 0,
              base64.b64encode(b'{"status":"invalid_token","schemes":"bearer"}').decode(), "ya29.token")

print("seeds written under", CORPUS)

# ---- certs_der: byte 0 = which seed certificate (0 P-384 leaf, 1 Ed25519 root, 2 SHA-1 leaf,
# 3 SHA-1 CA, 4 RSA-1024), then edits `op node_hi node_lo arg [bytes]`.
for i in range(5):
    write("certs_der", f"cert-{i}", bytes([i]))
# The P-384 leaf with a dictionary value in a node and a SAN-ish string grown.
write("certs_der", "edits-0", bytes([0, 9, 0, 20, 3, 11, 0, 40, 2]))
