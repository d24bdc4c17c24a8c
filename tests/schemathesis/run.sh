#!/usr/bin/env bash
# The API contract, checked from outside: schemathesis (every check, the conformance ones
# included) against a real `pufa serve --demo` on a free loopback port with a temporary data
# directory, three times: as the organizer, as an enterprise and without a login.
#
#   tests/schemathesis/run.sh            # after `cargo build --features demo`
#
# Settings (environment):
#   PUFA_BIN                   the server binary (default target/debug/pufa, built with the demo feature)
#   SCHEMATHESIS_VENV          where schemathesis is installed (default
#                              ~/.cache/pufa/schemathesis-VERSION, kept between runs and clones;
#                              created from requirements.txt unless it already has that version)
#   PYTHON                     the Python 3.11+ that makes the venv (default python3)
#   SCHEMATHESIS_MAX_EXAMPLES  test cases per operation and phase (default 20)
#   SCHEMATHESIS_SEED          the generator's seed (default fixed, so CI runs are repeatable;
#                              `random` draws a new one, printed in the output)
#
# The per-operation settings, and the reason for each, are in schemathesis.toml beside this
# file.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${PUFA_BIN:-$root/target/debug/pufa}
version=$(sed -n 's/^schemathesis==//p' "$here/requirements.txt")
cache=${XDG_CACHE_HOME:-${HOME:-$root/target}/.cache}
venv=${SCHEMATHESIS_VENV:-$cache/pufa/schemathesis-$version}
python=${PYTHON:-python3}
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-20}
seed=${SCHEMATHESIS_SEED:-20261201}

say() { echo "schemathesis: $*"; }

if [ ! -x "$bin" ]; then
    say "no server binary at $bin (cargo build --features demo)" >&2
    exit 1
fi

# --- schemathesis, installed once ---------------------------------------------------------
if ! "$venv/bin/st" --version 2>/dev/null | grep -qx "st, version $version"; then
    say "installing schemathesis $version into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi

# --- the server -----------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/pufa-schemathesis.XXXXXX")
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

: >"$work/server.log"
admin_password="st-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
# No transcode worker: the demo recording would keep a core busy, and uploads made by the run
# only need to be queued.
PUFA_ADMIN_PASSWORD=$admin_password PUFA_TRANSCODE_WORKERS=0 RUST_LOG=warn \
    PUFA_RTMP_LISTEN=off PUFA_SRT_LISTEN=off \
    "$bin" serve --demo --listen 127.0.0.1:0 --data "$work/data" --media "$work/media" \
    >>"$work/server.log" 2>&1 &
server_pid=$!

base=
for _ in $(seq 1 300); do
    base=$(sed -n 's/^pufa serving on \(http:[^ ]*\).*/\1/p' "$work/server.log")
    [ -n "$base" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        cat "$work/server.log" >&2
        say "the server did not start" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$base" ]; then
    say "the server did not say where it listens" >&2
    exit 1
fi
# the demo month is loaded before requests are answered
curl -fsS --max-time 60 "$base/healthz" >/dev/null

# --- logins ---------------------------------------------------------------------------------
# A test enterprise (credit code with a valid check character, see tests/api/credit_code.rs).
enterprise_uscc=91350100000000019E
enterprise_password="st-enterprise-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
curl -fsS --max-time 30 -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"name\":\"接口测试企业（示例）\",\"uscc\":\"$enterprise_uscc\",\"industry\":\"I\",\"contact_name\":\"测试联系人\",\"mobile\":\"13900000001\",\"password\":\"$enterprise_password\",\"privacy_consent\":true}" \
    "$base/api/v1/enterprises"

# cookie VALUE from a login's Set-Cookie headers
login() {
    local headers
    headers=$(curl -fsS --max-time 30 -o /dev/null -D - -H 'Content-Type: application/json' \
        -d "{\"login\":\"$1\",\"password\":\"$2\"}" "$base/api/v1/login")
    printf '%s\n' "$headers" | tr -d '\r' | sed -n "s/^[Ss]et-[Cc]ookie: $3=\([^;]*\);.*/\1/p" | head -n1
}
organizer_session=$(login admin "$admin_password" pufa_session)
enterprise_session=$(login "$enterprise_uscc" "$enterprise_password" pufa_session)
csrf=$(curl -fsS --max-time 30 -o /dev/null -D - "$base/healthz" | tr -d '\r' |
    sed -n 's/^[Ss]et-[Cc]ookie: pufa_csrf=\([^;]*\);.*/\1/p' | head -n1)
if [ -z "$organizer_session" ] || [ -z "$enterprise_session" ] || [ -z "$csrf" ]; then
    say "logging in failed" >&2
    exit 1
fi

# --- the runs -------------------------------------------------------------------------------
# Each run's configuration: the shared one, plus the login as the security scheme's value (so
# schemathesis knows the cookie is the credential: it leaves it out to check that the server
# then refuses) and the CSRF cookie and header the upload's double-submit check compares.
config_for() {
    cat "$here/schemathesis.toml"
    if [ -n "$1" ]; then
        printf '\n[auth.openapi.pufa_session]\napi_key = "%s"\n' "$1"
    fi
    printf '\n[parameters]\n"cookie.pufa_csrf" = "%s"\n"header.X-CSRF-Token" = "%s"\n' "$csrf" "$csrf"
}

st_run() {
    local who=$1 session=$2
    shift 2
    say "run as $who ($max_examples examples per operation, seed $seed)"
    config_for "$session" >"$work/$who.toml"
    local seed_args=(--seed "$seed")
    [ "$seed" = random ] && seed_args=()
    # from the temporary folder, where schemathesis keeps its cache
    (cd "$work" && "$venv/bin/st" --config-file "$work/$who.toml" run "$base/api/v1/openapi.json" \
        --max-examples "$max_examples" "${seed_args[@]}" \
        --generation-database none --no-color ${SCHEMATHESIS_EXTRA_ARGS:-} "$@") |
        tee "$work/$who.out"
    return "${PIPESTATUS[0]}"
}

# test cases that passed and unique failures found, from a run's summary line
# ("1504 generated, 1504 passed, 18 skipped" or "1462 generated, 2 found 2 unique failures")
count() {
    sed -n "s/.* generated.* \([0-9][0-9]*\) $2.*/\1/p" "$work/$1.out" | tail -n1
}

failed=()
passed_cases=0
failed_cases=0
started=$SECONDS
# Logged in: login and logout are left out, so fuzzing neither ends the session it runs with
# nor trips the login throttle for the account. No `Origin` is sent, as with any non-browser
# client, so the CSRF guard lets state-changing requests through.
# Without a login last: its wrong passwords may throttle this address's logins.
for who in organizer enterprise visitor; do
    case $who in
    organizer) args=("$organizer_session" --exclude-path /api/v1/login --exclude-path /api/v1/logout) ;;
    enterprise) args=("$enterprise_session" --exclude-path /api/v1/login --exclude-path /api/v1/logout) ;;
    visitor) args=("") ;;
    esac
    ok=yes
    st_run "$who" "${args[@]}" || ok=no
    passed_cases=$((passed_cases + $(count "$who" 'passed' || true) + 0))
    found=$(($(count "$who" 'unique failure' || true) + 0))
    if [ $ok = no ]; then
        failed+=("$who")
        # a run that failed without counting failures (an error, a crash) counts as one
        [ "$found" -gt 0 ] || found=1
    fi
    failed_cases=$((failed_cases + found))
done

say "$((SECONDS - started)) s for the three runs"
if [ ${#failed[@]} -gt 0 ]; then
    say "FAILED: ${failed[*]} (server log follows)" >&2
    tail -n 50 "$work/server.log" >&2
fi
# the closing line CI reads: test cases (requests with their checks) passed and failures found
echo "schemathesis: $passed_cases passed, $failed_cases failed"
[ ${#failed[@]} -eq 0 ]
