#!/usr/bin/env bash
# The whole test suite: Debian test dependencies, type check, then every test (vitest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
npx tsc -p .
npx vitest run "$@"
