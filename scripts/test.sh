#!/usr/bin/env bash
# The one test command: installs what the tests need, then runs the whole suite.
#
#   scripts/test.sh            # everything (what CI runs, via .ci/run)
#   scripts/test.sh -- FILTER  # pass extra arguments to `cargo test`
#
# Steps (Node.js and npm are needed for 1b):
#   1. tests/python/setup.sh: a local virtualenv (.venv) with Python grpcio,
#      grpcio-reflection (v1alpha only) and googleapis-common-protos, plus
#      generated stubs, for the third-party backend the end-to-end tests use;
#   1b. tests/connect/setup.sh: `npm ci` of the connect-es clients (Connect,
#      gRPC-Web and gRPC transports) the Connect end-to-end test drives;
#   2. cargo fmt --check and cargo clippy -D warnings;
#   3. cargo test for the whole workspace, with the connect-es clients
#      required (SWITCHBOARD_REQUIRE_NODE=1; tests that need the Python backend
#      fail without it; `-- --skip python` leaves them out visibly). The
#      end-to-end tests live in crates/switchboard/tests and run the binary cargo
#      builds for them from the current sources (CARGO_BIN_EXE_switchboard).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

extra=()
if [ "${1:-}" = "--" ]; then
    shift
    extra=("$@")
fi

echo "==> Python test backend"
tests/python/setup.sh

echo "==> connect-es test clients"
tests/connect/setup.sh

# A fresh clone (CI) gains nothing from incremental state, and it doubles the
# disk a build takes.
export CARGO_INCREMENTAL=0

echo "==> format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "==> tests"
export SWITCHBOARD_REQUIRE_NODE=1
cargo test --workspace --quiet --no-fail-fast "${extra[@]}"
