#!/usr/bin/env bash
# Installs what the tests need beyond npm: Debian packages, when run as root and missing.
set -euo pipefail

# command → Debian package
declare -A PACKAGES=(
  [chromium]=chromium
  [openssl]=openssl
  [baresip]=baresip-core
  [sipp]=sip-tester
  [rtpengine]=rtpengine-daemon
  [firefox-esr]=firefox-esr
  [ip]=iproute2  # the Firefox widget test runs in a network namespace of its own
  [turnserver]=coturn  # relay-only ICE through a real TURN server
  [svmap]=sipvicious  # the attacker: what a SIP scanner learns (test/security/sipvicious.test.ts)
)
# Not commands, but wanted: emoji glyphs so screenshots show the 📞 icons.
FILES=(/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf:fonts-noto-color-emoji)

missing=()
for cmd in "${!PACKAGES[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${PACKAGES[$cmd]}")
done
for entry in "${FILES[@]}"; do
  [ -e "${entry%%:*}" ] || missing+=("${entry##*:}")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing Debian packages: ${missing[*]} — install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# PostgreSQL is part of the test matrix: say so plainly when it is not there.
if ! node -e "
  const pg = require('pg');
  const c = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test', connectionTimeoutMillis: 3000 });
  c.connect().then(() => c.end()).catch((e) => { console.error(e.message); process.exit(1); });
" ; then
  echo "PostgreSQL is not reachable at \${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}; the store tests run on SQLite and PostgreSQL." >&2
  exit 1
fi
