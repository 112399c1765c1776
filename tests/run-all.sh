#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine as root: installs what the tests need
# (Dovecot, Postfix, Prometheus' promtool, Alertmanager), starts the real servers on loopback at
# unprivileged ports, runs every test of the workspace, and stops the servers again.
#
#   bash tests/run-all.sh            # everything
#   bash tests/run-all.sh -p mailbeat --test e2e    # extra arguments go to `cargo test`
#   bash tests/run-all.sh -p mailbeat-itest -- --nocapture   # and after `--`, to the test binaries
#
# The tests against the real servers are #[ignore]d, so that a plain `cargo test` lists them as
# ignored instead of passing them without a server; here they run, through `--include-ignored`,
# and fail if the harness is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/harness/install.sh

HARNESS_DIR=$(mktemp -d /tmp/mailbeat-harness.XXXXXX)
# Stop the servers, then remove the harness directory (it holds keys, logs and mail spools).
cleanup() {
  bash tests/harness/stop.sh "$HARNESS_DIR" || true
  case $HARNESS_DIR in /tmp/mailbeat-harness.*) rm -rf "$HARNESS_DIR" ;; esac
}
trap cleanup EXIT
MAILBEAT_HARNESS_SKIP_INSTALL=1 bash tests/harness/start.sh "$HARNESS_DIR"
# shellcheck disable=SC1091
source "$HARNESS_DIR/env.sh"

# Arguments before the caller's `--` go to cargo, the rest to the test binaries, after
# `--include-ignored` (which runs the #[ignore]d real-server tests). Cargo ignores `-p` next to
# `--workspace`, so the whole workspace is selected only when the caller names no package.
cargo_args=()
test_args=()
workspace=(--workspace)
while (($#)); do
  case $1 in
    --) shift; test_args=("$@"); break ;;
    -p | -p?* | --package | --package=*) workspace=() ;;
  esac
  cargo_args+=("$1")
  shift
done
cargo test "${workspace[@]}" --locked "${cargo_args[@]}" -- --include-ignored "${test_args[@]}"
