#!/usr/bin/env bash
# Segment serving benchmark: one public HLS segment served by pufa vs by nginx (same file).
#
#   benches/segments.sh     # PUFA=/work/target-bench/release/pufa REPS=2 DURATION=15s CONNS=64
#
# Setup (pufa with its default 1 transcode worker): log in as the demo organizer, upload a 20 s
# 1280x720 clip to the first session of the first program, wait for the transcode job, make the
# lecture public. Then restart pufa with `--transcode-workers 0` and RUST_LOG=warn, start nginx
# (root = the same media directory), and run `wrk -t2 -c64 -d15s --latency` against the same
# segment URL on each, alternating pufa, nginx, pufa, nginx, ...
set -euo pipefail

PUFA=${PUFA:-/work/target-bench/release/pufa}
REPS=${REPS:-2}
DURATION=${DURATION:-15s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-18480}
NGINX_PORT=${NGINX_PORT:-18481}
D=${BENCH_DIR:-$(mktemp -d /tmp/pufa-segments-bench.XXXXXX)}
export PUFA_ADMIN_PASSWORD=${PUFA_ADMIN_PASSWORD:-bench-admin-password}
export RUST_LOG=${BENCH_RUST_LOG:-warn}
BASE=http://127.0.0.1:$PORT
JAR=$D/cookies.txt

for c in ffmpeg wrk nginx curl jq; do command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] || { echo "$c missing" >&2; exit 1; }; done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$PUFA" ] || { echo "pufa binary missing: $PUFA" >&2; exit 1; }
mkdir -p "$D/data" "$D/media"

PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

PUFA_PID=
start_pufa() { # extra args...
  "$PUFA" serve --demo --data "$D/data" --media "$D/media" --listen "127.0.0.1:$PORT" "$@" \
    >>"$D/pufa.log" 2>&1 &
  PUFA_PID=$!; PIDS+=("$PUFA_PID")
  for _ in $(seq 1 100); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "pufa did not start, see $D/pufa.log" >&2; exit 1
}
stop_pufa() { kill "$PUFA_PID"; wait "$PUFA_PID" 2>/dev/null || true; }
csrf() { awk '$6 == "pufa_csrf" {v = $7} END {print v}' "$JAR"; }

CLIP=${CLIP:-$D/clip-720p-20s.mp4}
if [ ! -s "$CLIP" ]; then
  echo "== making clip $CLIP" >&2
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
    -t 20 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -shortest "$CLIP"
fi

echo "== setup: pufa with a transcode worker" >&2
start_pufa
curl -fsS -c "$JAR" -b "$JAR" -o /dev/null "$BASE/login"
curl -fsS -c "$JAR" -b "$JAR" -H 'Content-Type: application/json' \
  -d "{\"login\":\"admin\",\"password\":\"$PUFA_ADMIN_PASSWORD\"}" -o /dev/null "$BASE/api/v1/login"
curl -fsS -c "$JAR" -b "$JAR" -o /dev/null "$BASE/api/v1/me"
PROGRAM=$(curl -fsS -b "$JAR" "$BASE/api/v1/programs" |
  jq -r 'if type == "array" then .[0].id else (.programs // .items // .data)[0].id end')
SESSION=$(curl -fsS -b "$JAR" "$BASE/api/v1/programs/$PROGRAM" | jq -r '.sessions[0].id')
UPLOAD=$(curl -fsS -b "$JAR" -c "$JAR" -H "X-CSRF-Token: $(csrf)" \
  -F "file=@$CLIP;type=video/mp4" "$BASE/api/v1/sessions/$SESSION/recording")
JOB=$(jq -r .job_id <<<"$UPLOAD"); LECTURE=$(jq -r .lecture_id <<<"$UPLOAD")
echo "program $PROGRAM session $SESSION -> job $JOB lecture $LECTURE" >&2
for _ in $(seq 1 600); do
  STATE=$(curl -fsS -b "$JAR" "$BASE/api/v1/jobs/$JOB" | jq -r .state)
  [ "$STATE" = done ] && break
  [ "$STATE" = failed ] && { echo "transcode job failed" >&2; exit 1; }
  sleep 1
done
[ "$STATE" = done ] || { echo "transcode job did not finish (state $STATE)" >&2; exit 1; }
curl -fsS -b "$JAR" -c "$JAR" -o /dev/null -H "Origin: $BASE" \
  --data-urlencode "csrf=$(csrf)" --data-urlencode visibility=public \
  "$BASE/admin/lectures/$LECTURE/visibility"
stop_pufa

echo "== measurement: pufa --transcode-workers 0, RUST_LOG=$RUST_LOG" >&2
start_pufa --transcode-workers 0
MASTER=/media/lectures/$LECTURE/v$JOB/master.m3u8
VARIANT=$(curl -fsS "$BASE$MASTER" | grep -v '^#' | grep -m1 .)   # first = highest rung
VARIANT_URL=$(dirname "$MASTER")/$VARIANT
SEGMENT=$(curl -fsS "$BASE$VARIANT_URL" | grep -v '^#' | grep -m1 .)
SEG_URL=$(dirname "$VARIANT_URL")/$SEGMENT
SEG_URL=${SEG_URL%%\?*}
SEG_FILE=$D/media${SEG_URL#/media}
[ -f "$SEG_FILE" ] || { echo "segment file not found on disk: $SEG_FILE" >&2; exit 1; }

mkdir -p "$D/nginx/logs" "$D/nginx/tmp"
cat >"$D/nginx/nginx.conf" <<CONF
worker_processes 2;
$( [ "$(id -u)" = 0 ] && echo "user root;  # the scratch folder from mktemp -d is 0700" )
pid $D/nginx/nginx.pid;
error_log $D/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $D/nginx/tmp/body;
  proxy_temp_path $D/nginx/tmp/proxy;
  fastcgi_temp_path $D/nginx/tmp/fastcgi;
  uwsgi_temp_path $D/nginx/tmp/uwsgi;
  scgi_temp_path $D/nginx/tmp/scgi;
  types { video/iso.segment m4s; application/vnd.apple.mpegurl m3u8; video/mp4 mp4; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location /media/ { alias $D/media/; }
  }
}
CONF
"$NGINX" -p "$D/nginx" -c "$D/nginx/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!; PIDS+=("$NGINX_PID")
for _ in $(seq 1 50); do curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT$SEG_URL" 2>/dev/null && break; sleep 0.2; done

PUFA_URL=$BASE$SEG_URL
NGINX_URL=http://127.0.0.1:$NGINX_PORT$SEG_URL
sum_pufa=$(curl -fsS "$PUFA_URL" | sha256sum | cut -c1-16)
sum_nginx=$(curl -fsS "$NGINX_URL" | sha256sum | cut -c1-16)
sum_file=$(sha256sum "$SEG_FILE" | cut -c1-16)
[ "$sum_pufa" = "$sum_file" ] && [ "$sum_nginx" = "$sum_file" ] ||
  { echo "bodies differ: pufa $sum_pufa nginx $sum_nginx file $sum_file" >&2; exit 1; }
echo "segment $SEG_URL ($(stat -c %s "$SEG_FILE") bytes, sha256 $sum_file…)" >&2
echo "pufa headers:" >&2; curl -fsS -D - -o /dev/null "$PUFA_URL" | tr -d '\r' | sed 's/^/  /' >&2

# CPU seconds: all processes since boot (/proc/stat), and one process plus its children.
HZ=$(getconf CLK_TCK)
busy_s() { awk -v hz="$HZ" '/^cpu / {print ($2 + $3 + $4 + $7 + $8 + $9) / hz}' /proc/stat; }
proc_cpu_s() { # $1 = pid: the process and its direct children (nginx workers)
  local p t=0
  for p in "$1" $(pgrep -P "$1" || true); do
    t=$((t + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat")))
  done
  awk -v t="$t" -v hz="$HZ" 'BEGIN {printf "%.2f", t / hz}'
}

# wrk output → "req_s p50_ms p99_ms mb_s non2xx"
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}' <<<"$1"; }
to_mb() { awk '{v=$1; if (v ~ /GB$/) {sub(/GB$/,"",v); v*=1024} else if (v ~ /MB$/) {sub(/MB$/,"",v)} else if (v ~ /KB$/) {sub(/KB$/,"",v); v/=1024}; printf "%.0f", v}' <<<"$1"; }
results=$D/results.txt; : >"$results"
for rep in $(seq 1 "$REPS"); do
  for name in pufa nginx; do
    url=PUFA_URL; server=$PUFA_PID
    [ "$name" = nginx ] && { url=NGINX_URL; server=$NGINX_PID; }
    echo "== wrk $name run $rep" >&2
    out=$D/wrk-$name-$rep.txt
    b0=$(busy_s); s0=$(proc_cpu_s "$server")
    /usr/bin/time -f '%U %S' -o "$D/wrk-time-$name-$rep.txt" \
      wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "${!url}" >"$out"
    b1=$(busy_s); s1=$(proc_cpu_s "$server")
    read -r wu ws <"$D/wrk-time-$name-$rep.txt"
    cpu=$(awk -v b0="$b0" -v b1="$b1" -v s0="$s0" -v s1="$s1" -v wu="$wu" -v ws="$ws" \
      'BEGIN {o = (b1 - b0) - (s1 - s0) - (wu + ws); if (o < 0) o = 0; printf "%.2f %.2f %.2f", s1 - s0, wu + ws, o}')
    req=$(awk '/^Requests\/sec/ {print $2}' "$out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
    mbs=$(to_mb "$(awk '/^Transfer\/sec/ {print $2}' "$out")")
    bad=$(awk '/Non-2xx/ {print $NF} END {}' "$out"); bad=${bad:-0}
    echo "$name $rep $req $p50 $p99 $mbs $bad $cpu" | tee -a "$results" >&2
  done
done

echo
echo "segment: $SEG_URL, $(stat -c %s "$SEG_FILE") bytes; wrk -t$THREADS -c$CONNS -d$DURATION --latency; nproc=$(nproc); RUST_LOG=$RUST_LOG"
echo
echo "| server | run | req/s | p50 ms | p99 ms | MiB/s | non-2xx | server CPU s | wrk CPU s | other CPU s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
awk '{printf "| %s | %d | %.0f | %.2f | %.2f | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10}' "$results"
echo
awk '$1=="pufa" {pr+=$3; pp50+=$4; pp99+=$5; np++} $1=="nginx" {nr+=$3; np50+=$4; np99+=$5; nn++}
  END {printf "mean req/s: pufa %.0f, nginx %.0f, pufa/nginx = %.2fx; mean p50 %.2f / %.2f ms; mean p99 %.2f / %.2f ms\n",
    pr/np, nr/nn, (pr/np)/(nr/nn), pp50/np, np50/nn, pp99/np, np99/nn}' "$results"
echo "logs and wrk output: $D"
