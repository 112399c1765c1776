#!/bin/bash
# Stop the harness started by start.sh DIR: Postfix first (its smtpd processes hold
# connections to Dovecot's auth socket), then nginx, then the Dovecot masters.  Processes are found via
# PID files and the session ids recorded at start (every daemon is started under setsid),
# never by name.  Bounded waits; exits 1 if something of this DIR is still running.
# Usage: stop.sh DIR
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$(abs_dir "$1") || exit 2
[[ -d $DIR ]] || exit 0
P=$DIR/pids
STOP_TIMEOUT=${STOP_TIMEOUT:-10}

sessions=()
[[ -r $P/sessions ]] && mapfile -t sessions <"$P/sessions"
add_session() {  # remember the session of a live process of ours
  local s
  s=$(proc_field "$1" 4) || return 0
  [[ " ${sessions[*]-} " == *" $s "* ]] || sessions+=("$s")
}

# ---- Postfix ----------------------------------------------------------------------------
pf_pids=()
for f in "$P/postfix.pid" "$P/postfix-master.pid" "$DIR/postfix-spool/pid/master.pid"; do
  p=$(read_pid "$f") || continue
  if owned "$p" "$DIR/"; then pf_pids+=("$p"); add_session "$p"; fi
done
if [[ ${#pf_pids[@]} -gt 0 ]]; then
  out=$(run_postfix "$DIR" stop 2>&1) || echo "stop.sh: postfix stop: $out" >&2
  if ! wait_gone "$STOP_TIMEOUT" "${pf_pids[@]}"; then
    echo "stop.sh: postfix still running after ${STOP_TIMEOUT}s, sending SIGKILL to ${pf_pids[*]}" >&2
    kill -KILL "${pf_pids[@]}" 2>/dev/null
    wait_gone 5 "${pf_pids[@]}"
  fi
fi

# ---- nginx (EWS) --------------------------------------------------------------------------
ng_pids=()
for f in "$P/nginx.pid" "$DIR/run/nginx.pid"; do
  p=$(read_pid "$f") || continue
  if owned "$p" "$DIR/"; then
    [[ " ${ng_pids[*]-} " == *" $p "* ]] || ng_pids+=("$p")
    add_session "$p"
  fi
done
if [[ ${#ng_pids[@]} -gt 0 ]]; then
  kill -TERM "${ng_pids[@]}" 2>/dev/null
  if ! wait_gone "$STOP_TIMEOUT" "${ng_pids[@]}"; then
    echo "stop.sh: nginx still running after ${STOP_TIMEOUT}s, sending SIGKILL to ${ng_pids[*]}" >&2
    kill -KILL "${ng_pids[@]}" 2>/dev/null
    wait_gone 5 "${ng_pids[@]}"
  fi
fi

# ---- Dovecot A, B and C --------------------------------------------------------------------
dv_pids=()
for i in A B C; do
  for f in "$P/dovecot-$i.pid" "$DIR/run/dovecot-$i/master.pid"; do
    p=$(read_pid "$f") || continue
    if owned "$p" "$DIR/"; then
      [[ " ${dv_pids[*]-} " == *" $p "* ]] || dv_pids+=("$p")
      add_session "$p"
    fi
  done
done
if [[ ${#dv_pids[@]} -gt 0 ]]; then
  kill -TERM "${dv_pids[@]}" 2>/dev/null
  if ! wait_gone "$STOP_TIMEOUT" "${dv_pids[@]}"; then
    echo "stop.sh: dovecot still running after ${STOP_TIMEOUT}s, sending SIGKILL to ${dv_pids[*]}" >&2
    kill -KILL "${dv_pids[@]}" 2>/dev/null
    wait_gone 5 "${dv_pids[@]}"
  fi
fi

# ---- leftovers in our sessions (children orphaned by their master) ------------------------
left=()
for s in "${sessions[@]}"; do
  [[ -n $s ]] && mapfile -t -O "${#left[@]}" left < <(session_members "$s")
done
if [[ ${#left[@]} -gt 0 ]]; then
  kill -TERM "${left[@]}" 2>/dev/null
  if ! wait_gone 3 "${left[@]}"; then
    kill -KILL "${left[@]}" 2>/dev/null
    wait_gone 3 "${left[@]}"
  fi
fi

still=()
for s in "${sessions[@]}"; do
  [[ -n $s ]] && mapfile -t -O "${#still[@]}" still < <(session_members "$s")
done
if [[ ${#still[@]} -gt 0 ]]; then
  echo "stop.sh: processes of $DIR still running:" >&2
  for p in "${still[@]}"; do
    printf '  %s %s\n' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" >&2
  done
  exit 1
fi
rm -f "$P"/*.pid "$P/sessions"
exit 0
