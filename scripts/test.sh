#!/usr/bin/env bash
# The whole test suite: Debian test dependencies, type check, then every test (vitest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
npx tsc -p .
# The pages load the built widget (web/dist): the browser tests need it, fresh.
npm run build
npx vitest run "$@"
