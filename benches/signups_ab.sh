#!/usr/bin/env bash
# Sign-ups, alternated A/B/C: the release servers of two earlier commits and of this checkout,
# driven by ONE load generator (this checkout's benches/signups.rs, PUFA_BENCH_SERVER picks the
# server), round after round, so that a change of machine load hits every variant alike.
#
#   benches/signups_ab.sh            # 3 rounds of before=c0de434, main=35fef1d, after=checkout
#   ROUNDS=5 BEFORE=c0de434 MAIN=35fef1d benches/signups_ab.sh
#   BIN_before=/path/pufa BIN_main=/path/pufa benches/signups_ab.sh   # skip those builds
#   BIN_after=/path/pufa SIGNUPS_BENCH=/path/signups-…  # and the checkout's (server + load generator)
#
# Builds with `cargo bench --bench signups --no-run` (release settings) in temporary detached
# worktrees of BEFORE and MAIN, and in this checkout for "after" and the load generator. Uses
# CARGO_TARGET_DIR when set (copying each `release/pufa` right after its build, since the next
# build overwrites it). Only the ext4 run (PUFA_BENCH_TMPFS=0): the data directory is under
# /tmp. Each round rotates the order (before main after, main after before, …). Prints one line
# per run (throughput, latency, server CPU, other processes' CPU, load average) and the ratios
# of each round; full outputs stay in the printed log directory.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
BEFORE=${BEFORE:-c0de434}
MAIN=${MAIN:-35fef1d}
repo=$(git rev-parse --show-toplevel)
target=${CARGO_TARGET_DIR:-$repo/target}
export CARGO_INCREMENTAL=0
work=$(mktemp -d /tmp/signups-ab.XXXXXX)
logs="$work/logs"
mkdir -p "$logs"
worktrees=()
cleanup() {
    for w in "${worktrees[@]}"; do git -C "$repo" worktree remove --force "$w" 2>/dev/null || true; done
    rm -f "$work"/pufa-* "$work"/signups-bench
}
trap cleanup EXIT

# the path of the signups bench executable from cargo's --no-run output, made absolute
bench_exe() {
    local line path
    line=$(grep -E 'Executable .*benches/signups\.rs' "$1" | tail -1)
    path=${line##*(}
    path=${path%)}
    case "$path" in /*) echo "$path" ;; *) echo "$2/$path" ;; esac
}

build_commit() { # name commit
    local name=$1 commit=$2 var="BIN_$1"
    if [[ -n "${!var:-}" ]]; then
        cp "${!var}" "$work/pufa-$name"
        return
    fi
    local src="$work/src-$name"
    git -C "$repo" worktree add --detach "$src" "$commit" >/dev/null
    worktrees+=("$src")
    echo "building $name ($commit)…" >&2
    (cd "$src" && CARGO_TARGET_DIR="$target" cargo bench --bench signups --no-run) \
        >"$logs/build-$name.log" 2>&1
    cp "$target/release/pufa" "$work/pufa-$name"
    git -C "$repo" worktree remove --force "$src"
}

build_commit before "$BEFORE"
build_commit main "$MAIN"
if [[ -n "${BIN_after:-}" && -n "${SIGNUPS_BENCH:-}" ]]; then
    cp "$BIN_after" "$work/pufa-after"
    cp "$SIGNUPS_BENCH" "$work/signups-bench"
else
echo "building after (this checkout, $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet || echo ' + changes'))…" >&2
(cd "$repo" && CARGO_TARGET_DIR="$target" cargo bench --bench signups --no-run --message-format=short) \
    >"$logs/build-after.log" 2>&1
cp "$target/release/pufa" "$work/pufa-after"
cp "$(bench_exe "$logs/build-after.log" "$repo")" "$work/signups-bench"
fi

variants=(before main after)
declare -A rate p99
printf '| round | variant | sign-ups/s | p50 ms | p99 ms | max ms | server CPU ms/sign-up | other CPU s | load avg (1 min) before the run | checks |\n'
printf '|---:|---|---:|---:|---:|---:|---:|---:|---:|---|\n'
for round in $(seq 1 "$ROUNDS"); do
    for k in 0 1 2; do
        v=${variants[$(((round - 1 + k) % 3))]}
        load=$(cut -d' ' -f1 /proc/loadavg)
        out="$logs/round$round-$v.txt"
        checks=ok
        PUFA_BENCH_TMPFS=0 PUFA_BENCH_SERVER="$work/pufa-$v" "$work/signups-bench" >"$out" 2>"$out.err" || checks=FAILED
        # | tempdir (ext4) | POST sign-up | n | wall | req/s | p50 | p90 | p99 | max | server | lg | other |
        IFS='|' read -r _ _ _ _ _ r p50 _ q99 max cpu _ other _ < <(grep -m1 '| POST sign-up |' "$out" || echo '||||||||||||||')
        rate[$round,$v]=$(echo "$r" | tr -d ' ')
        p99[$round,$v]=$(echo "$q99" | tr -d ' ')
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$round" "$v" "${rate[$round,$v]}" \
            "$(echo "$p50" | tr -d ' ')" "${p99[$round,$v]}" "$(echo "$max" | tr -d ' ')" \
            "$(echo "$cpu" | tr -d ' ')" "$(echo "$other" | tr -d ' ')" "$load" "$checks"
    done
done
echo
printf '| round | main ÷ before | after ÷ before | after ÷ main | p99 ms before / main / after |\n'
printf '|---:|---:|---:|---:|---|\n'
for round in $(seq 1 "$ROUNDS"); do
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "n/a" }'; }
    printf '| %s | %s | %s | %s | %s / %s / %s |\n' "$round" \
        "$(ratio "${rate[$round,main]}" "${rate[$round,before]}")" \
        "$(ratio "${rate[$round,after]}" "${rate[$round,before]}")" \
        "$(ratio "${rate[$round,after]}" "${rate[$round,main]}")" \
        "${p99[$round,before]}" "${p99[$round,main]}" "${p99[$round,after]}"
done
echo
echo "full outputs: $logs"
