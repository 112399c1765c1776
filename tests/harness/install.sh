#!/bin/bash
# Install the Debian 12 packages the real-server test harness needs, and the npm packages the
# monitoring tests need, but only when something is missing.  Fast no-op when everything is
# present.  Must run as root.
#   tests/harness/install.sh            # install what is missing
#   tests/harness/install.sh --check    # only report; exit 1 if something is missing
set -euo pipefail

# Grafana's published dashboard schema (TypeScript declarations; the package has no JSON schema)
# and the compiler that checks the dashboards against it (agent/tests/monitoring_files.rs).
# Pinned; kept in a cache directory outside the work tree, so a machine that keeps it installs
# nothing the next time. No Grafana server is in Debian's archive or the npm registry.
NPM_DIR=${MAILBEAT_NPM_DIR:-/var/cache/mailbeat-tests/npm}
NPM_PACKAGES=("@grafana/schema@11.6.16" "typescript@5.9.3")
npm_missing() {
  local spec name version
  for spec in "${NPM_PACKAGES[@]}"; do
    name=${spec%@*}
    version=${spec##*@}
    grep -q "\"version\": \"$version\"" "$NPM_DIR/node_modules/$name/package.json" 2>/dev/null || return 0
  done
  return 1
}
install_npm() {
  npm_missing || return 0
  if [[ ${1-} == --check ]]; then
    echo "missing npm packages in $NPM_DIR: ${NPM_PACKAGES[*]}" >&2
    return 1
  fi
  local t0
  t0=$(date +%s)
  mkdir -p "$NPM_DIR"
  # No package.json and no lock file: nothing is written into the work tree, and the exact
  # versions above are what is installed.
  npm install --prefix "$NPM_DIR" --no-save --no-package-lock --no-audit --no-fund \
    --loglevel=error "${NPM_PACKAGES[@]}" >&2
  echo "install.sh: npm packages in $NPM_DIR in $(( $(date +%s) - t0 )) s" >&2
}

# kubernetes-validate (PyPI): the Kubernetes schemas the deploy/kubernetes manifests are checked
# against (agent/tests/deploy_files.rs). Pinned; installed with `pip --target` into a cache
# directory outside the work tree (no venv package needed, nothing in the system's Python).
PIP_DIR=${MAILBEAT_PIP_DIR:-/var/cache/mailbeat-tests/pip}
PIP_PACKAGES=("kubernetes-validate==1.37.0")
pip_missing() {
  local spec
  for spec in "${PIP_PACKAGES[@]}"; do
    [[ -d "$PIP_DIR/${spec%%==*}-${spec##*==}.dist-info" || -d "$PIP_DIR/$(echo "${spec%%==*}" | tr - _)-${spec##*==}.dist-info" ]] || return 0
  done
  return 1
}
install_pip() {
  pip_missing || return 0
  if [[ ${1-} == --check ]]; then
    echo "missing PyPI packages in $PIP_DIR: ${PIP_PACKAGES[*]}" >&2
    return 1
  fi
  local t0
  t0=$(date +%s)
  mkdir -p "$PIP_DIR"
  python3 -m pip install --quiet --disable-pip-version-check --upgrade --target "$PIP_DIR" \
    "${PIP_PACKAGES[@]}" >&2
  echo "install.sh: PyPI packages in $PIP_DIR in $(( $(date +%s) - t0 )) s" >&2
}

# "path-or-command  package" pairs: a file check is used where the package ships no
# command of its own (the dovecot protocol binaries).
checks=(
  "dovecot                         dovecot-core"
  "doveadm                         dovecot-core"
  "doveconf                        dovecot-core"
  "/usr/lib/dovecot/imap           dovecot-imapd"
  "/usr/lib/dovecot/imap-login     dovecot-imapd"
  "/usr/lib/dovecot/pop3           dovecot-pop3d"
  "/usr/lib/dovecot/pop3-login     dovecot-pop3d"
  "/usr/lib/dovecot/submission     dovecot-submissiond"
  "/usr/lib/dovecot/submission-login dovecot-submissiond"
  "postfix                         postfix"
  "/usr/lib/postfix/sbin/postlogd  postfix"
  "promtool                        prometheus"
  "prometheus                      prometheus"
  "prometheus-alertmanager         prometheus-alertmanager"
  "amtool                          prometheus-alertmanager"
  "nginx                           nginx"
  "openssl                         openssl"
  "script                          bsdutils"
  "chromium                        chromium"
  "node                            nodejs"
  "npm                             npm"
  "/usr/lib/nagios/plugins/check_tcp  monitoring-plugins-basic"
  "/usr/lib/nagios/plugins/check_imap monitoring-plugins-basic"
  "systemd-analyze                 systemd"
  "python3                         python3"
  "/usr/lib/python3/dist-packages/pip python3-pip"
)

# make sure sbin dirs are searched even under a minimal PATH
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

missing=()
for c in "${checks[@]}"; do
  read -r what pkg <<<"$c"
  if [[ $what == /* ]]; then [[ -x $what ]] && continue
  else command -v "$what" >/dev/null 2>&1 && continue
  fi
  [[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  install_npm "${1-}"
  install_pip "${1-}"
  exit 0
fi
if [[ ${1-} == --check ]]; then
  echo "missing packages: ${missing[*]}" >&2
  install_npm --check || true
  install_pip --check || true
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install.sh: must run as root to install: ${missing[*]}" >&2
  exit 1
fi

echo "install.sh: installing ${missing[*]}" >&2
t0=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
# The harness runs its own instances; keep the packages' postinst from starting the system
# daemons (dovecot on 143/993, postfix on 25, prometheus on 9090, ...): a temporary
# policy-rc.d that denies every start, unless the machine already has one.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update
# postfix asks questions in its postinst; answer them up front
echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
echo "postfix postfix/mailname string mail.test" | debconf-set-selections
apt-get install -y --no-install-recommends "${missing[@]}"
# postinst scripts may print "policy-rc.d denied execution of start" (containers): harmless,
# the harness never uses the system services.
echo "install.sh: done in $(( $(date +%s) - t0 )) s" >&2
install_npm
install_pip
