#!/usr/bin/env bash
# Chromium screenshots of every page at 1366 and 390 px into docs/screens/ (issue 17):
#   scripts/screens.sh            # uses target/debug/pufa (built with `--features demo` if absent)
#   PUFA=path/to/pufa scripts/screens.sh
# A demo server runs on a free port with throwaway data; an enterprise registers and signs up;
# once the demo recording is transcoded, every page is shot for a visitor, the enterprise and
# the organizer, full page, as JPEG. Pages wider than the window are reported (exit 1).
#   ONLY=regex scripts/screens.sh   # just the pages whose name matches
# Needs Debian's chromium and node/npm (playwright-core is installed into ~/.cache once).
set -euo pipefail
cd "$(dirname "$0")/.."
PUFA=${PUFA:-target/debug/pufa}
if [ ! -x "$PUFA" ]; then cargo build --features demo; fi
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/pufa-screens
if [ ! -d "$CACHE/node_modules/playwright-core" ]; then
  mkdir -p "$CACHE" && (cd "$CACHE" && npm install --silent --no-audit --no-fund playwright-core@1 >/dev/null)
fi
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export ADMIN_PW=screens-admin-pass-4821
PUFA_ADMIN_PASSWORD=$ADMIN_PW "$PUFA" serve --demo --listen "127.0.0.1:$PORT" \
  --data "$WORK/data" --media "$WORK/media" --rtmp-listen off --srt-listen off >"$WORK/log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
mkdir -p docs/screens
NODE_PATH="$CACHE/node_modules" node scripts/screens.js "http://127.0.0.1:$PORT" docs/screens
