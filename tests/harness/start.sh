#!/bin/bash
# Start the real-server test harness in DIR (created if missing), loopback only:
#   Dovecot A (leaf + intermediate)  IMAP 10143/10993, POP3 10110/10995, submission 10588/10466
#   Dovecot B (leaf only)            same services on 20143/20993, 20110/20995, 20588/20466
#   Dovecot C (OAuth2 only)          IMAP 30143/30993, submission 30587/30465: XOAUTH2 and
#                                    OAUTHBEARER via passdb oauth2, introspection at
#                                    http://127.0.0.1:18080/introspect (the tests' IdP)
#   Postfix                          10587 submission (STARTTLS required, SASL via Dovecot A),
#                                    10465 submissions (implicit TLS), 10025 plain relay-in
#   nginx (canned Exchange EWS)      HTTPS 10443 (leaf + intermediate), 20443 (leaf only):
#                                    /EWS/Exchange.asmx (Basic auth, GetFolder inbox answer),
#                                    /EWS-denied/Exchange.asmx (ErrorImpersonateUserDenied),
#                                    /EWS-ntlm/Exchange.asmx (401 offering only NTLM, Negotiate)
# Accounts: alice@mail.test / alicepass, bob@mail.test / bobpass (nginx also: MAIL\alice).
# Writes DIR/env.sh (ports, CA path, accounts).  If a harness is already running from DIR
# it is stopped first.
#
# Environment:
#   AUTH_FAILURE_DELAY   Dovecot auth_failure_delay (default "2 secs"; "0" = answer at once)
#   DOVECOT_MODE         perf (default: reused login processes) | default (fork per connection)
#   START_TIMEOUT        seconds to wait for all services (default 20)
#   IDP_INTROSPECT_PORT  where Dovecot C asks the tests' IdP (default 18080)
#   MAILBEAT_HARNESS_SKIP_INSTALL=1   do not run install.sh
# Usage: start.sh DIR
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$(abs_dir "$1")
T=$HERE/templates
AUTH_FAILURE_DELAY=${AUTH_FAILURE_DELAY:-2 secs}
DOVECOT_MODE=${DOVECOT_MODE:-perf}
START_TIMEOUT=${START_TIMEOUT:-20}
IDP_INTROSPECT_PORT=${IDP_INTROSPECT_PORT:-18080}
t_start=$(date +%s.%N)

if [[ ! $AUTH_FAILURE_DELAY =~ ^[0-9]+(\ ?[a-z]+)?$ ]]; then
  echo "start.sh: bad AUTH_FAILURE_DELAY '$AUTH_FAILURE_DELAY' (e.g. '2 secs', '0')" >&2; exit 2
fi
[[ $IDP_INTROSPECT_PORT =~ ^[0-9]+$ ]] || { echo "start.sh: bad IDP_INTROSPECT_PORT '$IDP_INTROSPECT_PORT'" >&2; exit 2; }
case $DOVECOT_MODE in perf | default) ;; *) echo "start.sh: DOVECOT_MODE must be perf or default" >&2; exit 2 ;; esac
[[ $(id -u) -eq 0 ]] || { echo "start.sh: must run as root (Dovecot/Postfix masters)" >&2; exit 2; }

[[ -n ${MAILBEAT_HARNESS_SKIP_INSTALL:-} ]] || "$HERE/install.sh"

# name:port pairs; the name becomes MAILBEAT_<NAME>_PORT in env.sh
PORTS=(
  A_IMAP:10143 A_IMAPS:10993 A_POP3:10110 A_POP3S:10995 A_SUBMISSION:10588 A_SUBMISSIONS:10466
  B_IMAP:20143 B_IMAPS:20993 B_POP3:20110 B_POP3S:20995 B_SUBMISSION:20588 B_SUBMISSIONS:20466
  C_IMAP:30143 C_IMAPS:30993 C_SUBMISSION:30587 C_SUBMISSIONS:30465
  POSTFIX_SUBMISSION:10587 POSTFIX_SUBMISSIONS:10465 POSTFIX_SMTP:10025
  NGINX_EWS:10443 NGINX_EWS_LEAF_ONLY:20443
)
# plain-text greeting expected on the non-TLS ports once the service really answers
declare -A GREETING=(
  [10143]='* OK' [20143]='* OK' [10110]='+OK' [20110]='+OK'
  [10588]='220 ' [20588]='220 ' [10587]='220 ' [10025]='220 '
  [30143]='* OK' [30587]='220 '
)

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
greeting() {  # first line sent by the server on PORT (empty on timeout)
  timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1; IFS= read -r l <&3; printf "%s" "$l"' "$1" 2>/dev/null || true
}

# ---- stop a previous run from this DIR ------------------------------------------------------
if compgen -G "$DIR/pids/*.pid" >/dev/null || [[ -s $DIR/pids/sessions ]]; then
  "$HERE/stop.sh" "$DIR" || { echo "start.sh: could not stop the previous run in $DIR" >&2; exit 1; }
fi
busy=()
for pp in "${PORTS[@]}"; do port_open "${pp#*:}" && busy+=("${pp#*:}"); done
if [[ ${#busy[@]} -gt 0 ]]; then
  echo "start.sh: ports already in use on 127.0.0.1: ${busy[*]} (another harness running? stop.sh ITS_DIR)" >&2
  exit 1
fi

# ---- directories, PKI, accounts -------------------------------------------------------------
mkdir -p "$DIR"
chmod 755 "$DIR"    # Dovecot (nobody, dovenull) and Postfix (postfix) must traverse it
mkdir -p "$DIR"/{pids,logs,etc,state,run,postfix}
rm -f "$DIR"/logs/*.log "$DIR"/logs/*.stdout
pki_ok=1
for f in root.pem inter.pem leaf.pem leaf.key leaf-fullchain.pem expired.pem selfsigned.pem; do
  [[ -s $DIR/pki/$f ]] || pki_ok=0
done
[[ $pki_ok -eq 1 ]] || "$HERE/gen-pki.sh" "$DIR/pki"

users=$DIR/dovecot-users
: >"$users.tmp"
for acct in alice@mail.test:alicepass bob@mail.test:bobpass; do
  printf '%s:%s::::::\n' "${acct%%:*}" "$(openssl passwd -6 "${acct#*:}")" >>"$users.tmp"
done
chown root:dovecot "$users.tmp"
chmod 640 "$users.tmp"
mv -f "$users.tmp" "$users"
mkdir -p "$DIR/mail"
chown nobody:nogroup "$DIR/mail"

# nginx (EWS): Basic-auth users (SHA512-CRYPT, glibc crypt(3)) and the canned SOAP answers. The
# on-premises form MAIL\alice logs in too (an Exchange that takes DOMAIN\user logins).
mkdir -p "$DIR/nginx/www/EWS" "$DIR/nginx/www/EWS-denied" "$DIR/nginx/www/canned"
: >"$DIR/nginx/htpasswd.tmp"
for acct in 'alice@mail.test:alicepass' 'MAIL\alice:alicepass' 'bob@mail.test:bobpass'; do
  printf '%s:%s\n' "${acct%%:*}" "$(openssl passwd -6 "${acct#*:}")" >>"$DIR/nginx/htpasswd.tmp"
done
chmod 644 "$DIR/nginx/htpasswd.tmp"
mv -f "$DIR/nginx/htpasswd.tmp" "$DIR/nginx/htpasswd"
# the static files a POST is refused on (405), turned into the canned answers by error_page
: >"$DIR/nginx/www/EWS/Exchange.asmx"
: >"$DIR/nginx/www/EWS-denied/Exchange.asmx"
cp "$T/ews/getfolder-inbox.xml" "$T/ews/impersonate-denied.xml" "$DIR/nginx/www/canned/"
chmod -R a+rX "$DIR/nginx"

# ---- configs ------------------------------------------------------------------------------
render() {  # template out [sed expressions...]
  local in=$1 out=$2
  shift 2
  sed -e "s|@DIR@|$DIR|g" -e "s|@AUTH_FAILURE_DELAY@|$AUTH_FAILURE_DELAY|g" \
    -e "s|@IDP_INTROSPECT_PORT@|$IDP_INTROSPECT_PORT|g" "$@" "$in" >"$out.tmp"
  mv -f "$out.tmp" "$out"
}
render "$T/dovecot-common.conf.inc.in" "$DIR/etc/dovecot-common.conf.inc"
render "$T/dovecot.conf.in" "$DIR/etc/dovecot-A.conf" -e 's|@INSTANCE@|A|g' -e 's|@CERT@|leaf-fullchain.pem|g' -e 's|@PP@|10|g'
render "$T/dovecot.conf.in" "$DIR/etc/dovecot-B.conf" -e 's|@INSTANCE@|B|g' -e 's|@CERT@|leaf.pem|g' -e 's|@PP@|20|g'
render "$T/dovecot-perf.conf.in" "$DIR/etc/dovecot-A-perf.conf" -e 's|@INSTANCE@|A|g'
render "$T/dovecot-perf.conf.in" "$DIR/etc/dovecot-B-perf.conf" -e 's|@INSTANCE@|B|g'
render "$T/dovecot-oauth.conf.in" "$DIR/etc/dovecot-C.conf"
render "$T/dovecot-oauth2.conf.ext.in" "$DIR/etc/dovecot-oauth2.conf.ext"
render "$T/postfix-main.cf.in" "$DIR/postfix/main.cf"
render "$T/nginx.conf.in" "$DIR/etc/nginx.conf" -e 's|@EWS_PORT@|10443|g' -e 's|@EWS_LEAF_ONLY_PORT@|20443|g'
render "$T/nginx-ews.inc.in" "$DIR/etc/nginx-ews.inc"
render "$T/postfix-master.cf.in" "$DIR/postfix/master.cf"
# Postfix commands refuse to read a main.cf modified within the current second and poll it
# every 0.3 s (~2 s start-up delay measured): backdate the freshly written files.
touch -d '-10 seconds' "$DIR/postfix/main.cf" "$DIR/postfix/master.cf"

# fresh Dovecot base_dirs: a stale anvil-auth-penalty socket stalls every auth by 5 s
rm -rf "$DIR/run/dovecot-A" "$DIR/run/dovecot-B" "$DIR/run/dovecot-C"
# Postfix queue: creating the queue directories and checking them (start-fg) costs ~2 s, so
# they are kept across runs; only queued mail of a previous run is dropped.
install -d -o root -g root -m 0755 "$DIR/postfix-spool"
install -d -o postfix -g postfix -m 0700 "$DIR/postfix-data"
for q in incoming active deferred defer bounce trace hold maildrop corrupt flush saved; do
  [[ -d $DIR/postfix-spool/$q ]] && find "$DIR/postfix-spool/$q" -mindepth 1 -type f -delete
done
rm -f "$DIR/postfix-spool/pid/master.pid"

log_tails() {
  local f
  for f in "$DIR"/logs/dovecot-A.stdout "$DIR"/logs/dovecot-A.log "$DIR"/logs/dovecot-B.stdout \
    "$DIR"/logs/dovecot-B.log "$DIR"/logs/dovecot-C.stdout "$DIR"/logs/dovecot-C.log \
    "$DIR"/logs/postfix.stdout "$DIR"/logs/postfix.log "$DIR"/logs/nginx.stdout \
    "$DIR"/logs/nginx-error.log; do
    [[ -s $f ]] || continue
    echo "---- tail $f" >&2
    tail -n 20 "$f" >&2
  done
}
fail() {
  echo "start.sh: $*" >&2
  log_tails
  "$HERE/stop.sh" "$DIR" >&2 || true
  exit 1
}

# ---- launch ---------------------------------------------------------------------------------
# Each daemon runs in its own session (setsid): stop.sh uses the session id to find
# children orphaned by their master.  $! is the daemon itself (setsid/nohup exec it).
: >"$DIR/pids/sessions"
launch() {  # name command...
  local name=$1
  shift
  setsid nohup "$@" >"$DIR/logs/$name.stdout" 2>&1 </dev/null &
  echo $! >"$DIR/pids/$name.pid"
  echo $! >>"$DIR/pids/sessions"
}
suffix=""
[[ $DOVECOT_MODE == perf ]] && suffix="-perf"
launch dovecot-A dovecot -F -c "$DIR/etc/dovecot-A$suffix.conf"
launch dovecot-B dovecot -F -c "$DIR/etc/dovecot-B$suffix.conf"
# C has no perf overlay: it serves a few OAuth logins per test, one login process each is fine
launch dovecot-C dovecot -F -c "$DIR/etc/dovecot-C.conf"
# start-fg: postfix-script stays in the foreground and runs master; the recorded PID is
# postfix-script, the master's PID lands in postfix-spool/pid/master.pid.  Postfix needs
# Dovecot A's auth socket only when a client sends AUTH.  start-fg first runs the integrity
# checks (creating the queue directories, ~2 s) unless a clean "postfix stop" left the
# quick-start marker (only "postfix quick-stop" writes it).  Without a tty its fatal errors go to syslog only, so on failure the
# checks are re-run under script(1) to show them.
# After one successful start (marker written below) the checks are skipped on later starts.
if [[ -e $DIR/state/postfix-queue-ready && -d $DIR/postfix-spool/public && -d $DIR/postfix-spool/private ]]; then
  touch "$DIR/postfix-spool/quick-start"
fi
launch postfix postfix -c "$DIR/postfix" start-fg
# daemon off: the recorded PID is nginx's master (its workers share its session)
nginx -t -q -c "$DIR/etc/nginx.conf" -e "$DIR/logs/nginx-error.log" >"$DIR/logs/nginx-test.stdout" 2>&1 ||
  fail "nginx -t refused $DIR/etc/nginx.conf: $(cat "$DIR/logs/nginx-test.stdout")"
launch nginx nginx -c "$DIR/etc/nginx.conf" -e "$DIR/logs/nginx-error.log"

# ---- wait until everything answers ------------------------------------------------------------
deadline=$((SECONDS + START_TIMEOUT))
pending=()
for pp in "${PORTS[@]}"; do pending+=("${pp#*:}"); done
while :; do
  for name in dovecot-A dovecot-B dovecot-C postfix nginx; do
    if ! alive "$(read_pid "$DIR/pids/$name.pid")"; then
      [[ $name == postfix ]] && fail "postfix exited during startup; postfix check says: $(run_postfix "$DIR" check 2>&1)"
      fail "$name exited during startup"
    fi
  done
  still=()
  for p in "${pending[@]}"; do
    if ! port_open "$p"; then still+=("$p"); continue; fi
    if [[ -n ${GREETING[$p]-} ]]; then
      g=$(greeting "$p")
      [[ $g == "${GREETING[$p]}"* ]] || { still+=("$p"); continue; }
    fi
  done
  pending=("${still[@]}")
  [[ ${#pending[@]} -eq 0 && -S $DIR/run/dovecot-A/auth-postfix ]] && break
  [[ $SECONDS -ge $deadline ]] && fail "not ready after ${START_TIMEOUT}s; ports not answering: ${pending[*]:-none} (auth socket: $([[ -S $DIR/run/dovecot-A/auth-postfix ]] && echo ok || echo missing))"
  sleep 0.1
done

pfm=$(read_pid "$DIR/postfix-spool/pid/master.pid") || fail "postfix master.pid missing"
echo "$pfm" >"$DIR/pids/postfix-master.pid"
touch "$DIR/state/postfix-queue-ready"
alive "$pfm" && proc_field "$pfm" 4 >>"$DIR/pids/sessions"

# smoke: TLS with the right certificates, and the passdb answers
for p in 10993 10465; do
  out=$(openssl s_client -connect "127.0.0.1:$p" -servername localhost -CAfile "$DIR/pki/root.pem" \
    -verify_return_error -brief </dev/null 2>&1) || fail "TLS check on 127.0.0.1:$p failed: $out"
done
out=$(doveadm -c "$DIR/etc/dovecot-A.conf" auth test alice@mail.test alicepass 2>&1) ||
  fail "doveadm auth test for alice@mail.test failed: $out"
# nginx: the chain verifies on 10443, Basic auth guards the canned GetFolder answer
for p in 10443 20443; do
  out=$(timeout 5 openssl s_client -connect "127.0.0.1:$p" -servername mail.test -brief </dev/null 2>&1) ||
    fail "TLS check on 127.0.0.1:$p failed: $out"
done
out=$(timeout 5 openssl s_client -connect 127.0.0.1:10443 -servername mail.test -CAfile "$DIR/pki/root.pem" \
  -verify_return_error -brief </dev/null 2>&1) || fail "TLS check on 127.0.0.1:10443 failed: $out"
ews_status() {  # user:password → HTTP status of a POST to /EWS/Exchange.asmx
  { printf 'POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: mail.test\r\nAuthorization: Basic %s\r\n' "$(printf %s "$1" | base64 -w0)"
    printf 'Content-Type: text/xml\r\nContent-Length: 2\r\nConnection: close\r\n\r\n<a'; } |
    timeout 5 openssl s_client -quiet -connect 127.0.0.1:10443 -servername mail.test 2>/dev/null | head -n 1 | tr -d '\r'
}
[[ $(ews_status alice@mail.test:alicepass) == 'HTTP/1.1 200 OK' ]] || fail "nginx: alice's POST to /EWS/Exchange.asmx is not 200"
[[ $(ews_status alice@mail.test:wrong) == 'HTTP/1.1 401 Unauthorized' ]] || fail "nginx: a wrong password is not 401"
# C offers the OAuth mechanisms (a login through them needs the tests' IdP, not running here)
caps=$(greeting 30143)
[[ $caps == *AUTH=XOAUTH2* && $caps == *AUTH=OAUTHBEARER* ]] ||
  fail "Dovecot C (30143) does not offer XOAUTH2 and OAUTHBEARER: $caps"

# ---- env.sh ------------------------------------------------------------------------------------
{
  echo "# generated by tests/harness/start.sh; source it or parse the export lines"
  echo "export MAILBEAT_HARNESS_DIR='$DIR'"
  echo "export MAILBEAT_TEST_CA='$DIR/pki/root.pem'"
  echo "export MAILBEAT_TEST_PKI='$DIR/pki'"
  echo "export MAILBEAT_TEST_HOST='127.0.0.1'"
  echo "export MAILBEAT_TEST_SERVER_NAME='mail.test'"
  for pp in "${PORTS[@]}"; do echo "export MAILBEAT_${pp%%:*}_PORT='${pp#*:}'"; done
  echo "export MAILBEAT_TEST_USER='alice@mail.test'"
  echo "export MAILBEAT_TEST_PASSWORD='alicepass'"
  echo "export MAILBEAT_TEST_USER2='bob@mail.test'"
  echo "export MAILBEAT_TEST_PASSWORD2='bobpass'"
  echo "export MAILBEAT_TEST_AUTH_FAILURE_DELAY='$AUTH_FAILURE_DELAY'"
  echo "export MAILBEAT_TEST_DOVECOT_MODE='$DOVECOT_MODE'"
  echo "export MAILBEAT_IDP_INTROSPECT_PORT='$IDP_INTROSPECT_PORT'"
  echo "export MAILBEAT_NGINX_EWS_PATH='/EWS/Exchange.asmx'"
  echo "export MAILBEAT_NGINX_EWS_DENIED_PATH='/EWS-denied/Exchange.asmx'"
  echo "export MAILBEAT_NGINX_EWS_NTLM_PATH='/EWS-ntlm/Exchange.asmx'"
} >"$DIR/env.sh.tmp"
mv -f "$DIR/env.sh.tmp" "$DIR/env.sh"

t_end=$(date +%s.%N)
printf 'start.sh: harness up in %s (%.1f s): Dovecot A/B (%s mode), Dovecot C (OAuth2), Postfix, nginx (EWS); env: %s\n' \
  "$DIR" "$(awk "BEGIN { print $t_end - $t_start }")" "$DOVECOT_MODE" "$DIR/env.sh"
