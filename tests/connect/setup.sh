#!/usr/bin/env bash
# Installs the connect-es test clients (tests/connect/client.mjs) from the
# committed package-lock.json with `npm ci`. Idempotent and quick on re-run:
# skipped when node_modules was installed from the same lock file.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
stamp="node_modules/.switchboard-package-lock.json"
if cmp -s package-lock.json "$stamp" 2>/dev/null; then
    exit 0
fi
echo "setup.sh: npm ci in $here"
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
