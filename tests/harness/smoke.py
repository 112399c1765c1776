#!/usr/bin/env python3
"""Smoke test of a running harness: python3 tests/harness/smoke.py DIR

Checks TLS chains, good/bad logins on IMAP, POP3 and SMTP (Postfix and Dovecot
submission), STARTTLS enforcement, Dovecot C's OAuth-only mechanisms, and an SMTP -> IMAP
delivery round trip.
Prints the servers' replies; exits 1 on the first unexpected result.
"""
import imaplib, poplib, smtplib, socket, ssl, sys, time, uuid

def load_env(d):
    env = {}
    for line in open(f"{d}/env.sh"):
        if line.startswith("export "):
            k, _, v = line[7:].strip().partition("=")
            env[k] = v.strip("'")
    return env

E = load_env(sys.argv[1] if len(sys.argv) > 1 else "/tmp/mbh")
H = E["MAILBEAT_TEST_HOST"]
P = lambda n: int(E[f"MAILBEAT_{n}_PORT"])
U, PW = E["MAILBEAT_TEST_USER"], E["MAILBEAT_TEST_PASSWORD"]
U2, PW2 = E["MAILBEAT_TEST_USER2"], E["MAILBEAT_TEST_PASSWORD2"]
CTX = ssl.create_default_context(cafile=E["MAILBEAT_TEST_CA"])
NAME = E["MAILBEAT_TEST_SERVER_NAME"]
failed = False

def check(label, cond, got):
    global failed
    print(f"{'ok  ' if cond else 'FAIL'} {label}: {got}")
    failed |= not cond

def timed(f):
    t = time.monotonic()
    try:
        r = f()
    except Exception as e:  # noqa: BLE001
        r = e
    return r, time.monotonic() - t

# ---- TLS chain: A verifies, B (leaf only) does not
for port in (P("A_IMAPS"), P("A_POP3S"), P("A_SUBMISSIONS"), P("POSTFIX_SUBMISSIONS")):
    with socket.create_connection((H, port), 5) as s, CTX.wrap_socket(s, server_hostname=NAME) as t:
        check(f"TLS verify {port}", True, t.version())
try:
    with socket.create_connection((H, P("B_IMAPS")), 5) as s, CTX.wrap_socket(s, server_hostname=NAME):
        check("TLS B must fail", False, "verified")
except ssl.SSLCertVerificationError as e:
    check(f"TLS verify {P('B_IMAPS')} (leaf only)", "unable to get local issuer" in str(e), e.verify_message)

# ---- IMAP
def imap_login(port, user, pw, starttls=False):
    c = imaplib.IMAP4(H, port) if starttls else imaplib.IMAP4_SSL(H, port, ssl_context=CTX)
    if starttls:
        c._host = NAME  # noqa: SLF001  (SNI/verification name)
        c.starttls(ssl_context=CTX)
    try:
        return c.login(user, pw)
    finally:
        try: c.logout()
        except Exception: pass  # noqa: E701

r, dt = timed(lambda: imap_login(P("A_IMAPS"), U, PW)); check("IMAPS good", r[0] == "OK", f"{r} {dt:.2f}s")
r, dt = timed(lambda: imap_login(P("A_IMAP"), U2, PW2, starttls=True)); check("IMAP STARTTLS good (bob)", r[0] == "OK", f"{r} {dt:.2f}s")
r, dt = timed(lambda: imap_login(P("A_IMAPS"), U, "wrong")); check("IMAPS bad", "[AUTHENTICATIONFAILED]" in str(r), f"{r!r} {dt:.2f}s")

# plaintext login from 127.0.0.2 (127.0.0.1 -> 127.0.0.1 counts as secured for Dovecot)
s = socket.create_connection((H, P("A_IMAP")), 5, source_address=("127.0.0.2", 0))
f = s.makefile("rb")
greet = f.readline().decode().strip()
check("IMAP plain from 127.0.0.2 greeting has LOGINDISABLED", "LOGINDISABLED" in greet, greet)
s.sendall(f"a1 LOGIN {U} {PW}\r\n".encode())
line = f.readline().decode().strip()
while line.startswith("*"):
    line = f.readline().decode().strip()
check("IMAP plain LOGIN refused", "PRIVACYREQUIRED" in line, line)
s.close()

# ---- POP3
def pop_login(port, user, pw, stls=False):
    c = poplib.POP3(H, port) if stls else poplib.POP3_SSL(H, port, context=CTX)
    if stls:
        c.stls(context=CTX)
    try:
        c.user(user)
        return c.pass_(pw)
    finally:
        try: c.quit()
        except Exception: pass  # noqa: E701

r, dt = timed(lambda: pop_login(P("A_POP3S"), U, PW)); check("POP3S good", str(r).startswith("b'+OK"), f"{r} {dt:.2f}s")
r, dt = timed(lambda: pop_login(P("A_POP3"), U, PW, stls=True)); check("POP3 STLS good", str(r).startswith("b'+OK"), f"{r} {dt:.2f}s")
r, dt = timed(lambda: pop_login(P("A_POP3S"), U, "wrong")); check("POP3S bad", "AUTH" in str(r), f"{r!r} {dt:.2f}s")

# ---- SMTP
def smtp_auth(port, user, pw, implicit=False):
    c = smtplib.SMTP_SSL(H, port, context=CTX, timeout=10) if implicit else smtplib.SMTP(H, port, timeout=10)
    try:
        c.ehlo("client.test")
        if not implicit:
            c.starttls(context=CTX)
            c.ehlo("client.test")
        c.user, c.password = user, pw
        return c.auth("PLAIN", c.auth_plain, initial_response_ok=True)
    except smtplib.SMTPAuthenticationError as e:
        return (e.smtp_code, e.smtp_error)
    finally:
        try: c.quit()
        except Exception: pass  # noqa: E701

for name, implicit in (("POSTFIX_SUBMISSION", False), ("POSTFIX_SUBMISSIONS", True),
                       ("A_SUBMISSION", False), ("A_SUBMISSIONS", True)):
    r, dt = timed(lambda: smtp_auth(P(name), U, PW, implicit)); check(f"SMTP {P(name)} good", r[0] == 235, f"{r} {dt:.2f}s")
    r, dt = timed(lambda: smtp_auth(P(name), U, "wrong", implicit)); check(f"SMTP {P(name)} bad", r[0] == 535, f"{r} {dt:.2f}s")

# AUTH before STARTTLS on Postfix 10587
c = smtplib.SMTP(H, P("POSTFIX_SUBMISSION"), timeout=10)
c.ehlo("client.test")
check("10587 pre-TLS EHLO has no AUTH", not c.has_extn("auth") and c.has_extn("starttls"), c.esmtp_features)
r = c.docmd("AUTH", "PLAIN AGFsaWNlQG1haWwudGVzdABhbGljZXBhc3M=")
check("10587 AUTH before STARTTLS", r[0] == 530, r)
r = c.docmd("MAIL", "FROM:<alice@mail.test>")
check("10587 MAIL before STARTTLS", r[0] == 530, r)
c.quit()

# ---- Dovecot C: OAuth mechanisms only (a login needs the tests' IdP on the introspection port)
with socket.create_connection((H, P("C_IMAP")), 5) as s:
    greet = s.makefile("rb").readline().decode().strip()
check("C IMAP offers XOAUTH2 and OAUTHBEARER only",
      "AUTH=XOAUTH2" in greet and "AUTH=OAUTHBEARER" in greet and "AUTH=PLAIN" not in greet, greet)
for port, implicit in ((P("C_SUBMISSION"), False), (P("C_SUBMISSIONS"), True)):
    c = smtplib.SMTP_SSL(H, port, context=CTX, timeout=10) if implicit else smtplib.SMTP(H, port, timeout=10)
    c.ehlo("client.test")
    if not implicit:
        c.starttls(context=CTX); c.ehlo("client.test")
    check(f"C submission {port} AUTH", c.esmtp_features.get("auth", "").split() == ["XOAUTH2", "OAUTHBEARER"], c.esmtp_features.get("auth"))
    c.quit()

# ---- SMTP -> IMAP round trip (Postfix virtual delivers into the Dovecot maildir)
subj = f"harness-smoke-{uuid.uuid4()}"
c = smtplib.SMTP(H, P("POSTFIX_SUBMISSION"), timeout=10)
c.starttls(context=CTX); c.login(U, PW)
c.sendmail(U, [U2], f"From: {U}\r\nTo: {U2}\r\nSubject: {subj}\r\n\r\nhello\r\n")
c.quit()
found = False
for _ in range(50):
    m = imaplib.IMAP4_SSL(H, P("A_IMAPS"), ssl_context=CTX)
    m.login(U2, PW2); m.select("INBOX", readonly=True)
    typ, data = m.search(None, "SUBJECT", f'"{subj}"')
    m.logout()
    if data[0]:
        found = True
        break
    time.sleep(0.1)
check("SMTP 10587 -> IMAP delivery to bob", found, subj)

sys.exit(1 if failed else 0)
