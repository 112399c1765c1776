#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine as root: installs what the tests need
# (Dovecot, Postfix, Prometheus' promtool, Alertmanager), starts the real servers on loopback at
# unprivileged ports, runs every test of the workspace, and stops the servers again.
#
#   bash tests/run-all.sh            # everything
#   bash tests/run-all.sh -p mailbeat --test e2e    # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/harness/install.sh

HARNESS_DIR=$(mktemp -d /tmp/mailbeat-harness.XXXXXX)
cleanup() { bash tests/harness/stop.sh "$HARNESS_DIR" || true; }
trap cleanup EXIT
MAILBEAT_HARNESS_SKIP_INSTALL=1 bash tests/harness/start.sh "$HARNESS_DIR"
# shellcheck disable=SC1091
source "$HARNESS_DIR/env.sh"
# Tests against the real servers fail (rather than skip) when the harness is missing.
export MAILBEAT_REQUIRE_HARNESS=1

cargo test --workspace --locked "$@"
