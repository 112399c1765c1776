# shellcheck shell=bash
# Helpers shared by start.sh and stop.sh (sourced).  Process handling uses /proc only,
# identifies processes by PID / session id, never by name.

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# abs_dir PATH: absolute path; refuse characters that would break the config files
abs_dir() {
  local d
  d=$(realpath -m -- "$1")
  if [[ ! $d =~ ^/[A-Za-z0-9_./+-]+$ ]]; then
    echo "harness: run directory must match [A-Za-z0-9_./+-] (got '$d')" >&2
    return 1
  fi
  printf '%s\n' "$d"
}

# proc_field PID N: N-th field of /proc/PID/stat after the "(comm)" (1 = state, 2 = ppid,
# 3 = pgrp, 4 = session)
proc_field() {
  local pid=$1 n=$2 s
  { IFS= read -r s <"/proc/$pid/stat"; } 2>/dev/null || return 1
  s=${s##*) }
  local -a f
  read -r -a f <<<"$s"
  printf '%s\n' "${f[$((n - 1))]}"
}

# alive PID: process exists and is not a zombie
alive() {
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  local st
  st=$(proc_field "$1" 1) || return 1
  [[ $st != Z && $st != X ]]
}

# owned PID DIR: the process mentions DIR in its command line or environment
# (guards against a recycled PID in a stale pid file)
owned() {
  alive "$1" || return 1
  grep -qaF -- "$2" "/proc/$1/cmdline" 2>/dev/null && return 0
  grep -qaF -- "$2" "/proc/$1/environ" 2>/dev/null
}

# session_members SID: live processes whose session id is SID (excluding ourselves)
session_members() {
  local sid=$1 p s
  local -a f
  [[ $sid =~ ^[0-9]+$ && $sid -gt 1 ]] || return 0
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    { IFS= read -r s <"/proc/$p/stat"; } 2>/dev/null || continue
    read -r -a f <<<"${s##*) }"
    # f[0] = state, f[3] = session
    [[ ${f[3]} == "$sid" && ${f[0]} != Z && ${f[0]} != X ]] && printf '%s\n' "$p"
  done
  return 0
}

# wait_gone TIMEOUT_SECS PID...: wait until none of the PIDs is alive; rc 1 on timeout
wait_gone() {
  local timeout=$1 p left
  shift
  local deadline=$((SECONDS + timeout))
  while :; do
    left=0
    for p in "$@"; do alive "$p" && left=1; done
    [[ $left -eq 0 ]] && return 0
    [[ $SECONDS -ge $deadline ]] && return 1
    sleep 0.1
  done
}

# read_pid FILE: first number in FILE (postfix pads its master.pid with blanks)
read_pid() {
  local v
  [[ -r $1 ]] || return 1
  v=$(tr -cd '0-9\n' <"$1" | head -n1)
  [[ -n $v ]] && printf '%s\n' "$v"
}

# run_postfix DIR ARGS...: postfix without a tty logs fatal errors only to syslog (absent
# here) and exits 1 silently; run it under script(1) so the errors are visible.
run_postfix() {
  local d=$1
  shift
  if command -v script >/dev/null 2>&1; then
    script -qec "postfix -c $d/postfix $*" /dev/null
  else
    postfix -c "$d/postfix" "$@"
  fi
}
