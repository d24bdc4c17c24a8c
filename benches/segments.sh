#!/usr/bin/env bash
# Segment serving benchmark: one HLS segment of a private (`registered`) lecture, requested with
# a login session cookie, served by (i) pufa alone, (ii) nginx in front of pufa with
# X-Accel-Redirect (pufa checks the access, nginx sends the file), (iii) nginx alone (the same
# file, no check).
#
#   benches/segments.sh     # PUFA=target/release/pufa REPS=2 DURATION=15s CONNS=64
#
#   MODES="pufa accel nginx"   the servers, alternated in this order in every round; also
#                              `nogrant` (pufa with --media-grant-secs 0: every segment
#                              through the router and its database check),
#                              `cache` (pufa with --media-sendfile false: segments from the
#                              in-memory cache, written through hyper), `nocache` (that and
#                              --media-cache-mb 0) and `base` (the binary PUFA_BASE, e.g. a
#                              build of the previous commit, without flags)
#                              Issue 18, object storage: `s3stream` (pufa with --storage s3://…
#                              on an s3s-fs bucket holding the same files: pufa checks and
#                              streams the object), `s3presigned` (the same with
#                              --media-delivery presigned: pufa checks and answers 302 to a
#                              presigned URL; wrk does not follow it) and `s3direct` (that
#                              presigned URL fetched from s3s-fs: what the redirected viewer
#                              costs the bucket); S3S_FS=path/to/s3s-fs (make s3-tool)
#   VISIBILITY=registered      or `public` (then wrk sends no cookie, as the first round did)
#   PUFA_EXTRA="--media-cache-mb 0"   extra `pufa serve` flags for modes pufa and accel
#   PERF=1                     `perf record -g` on pufa during its first run (perf.data in D)
#
# Setup (pufa with its default 1 transcode worker): log in as the demo organizer, upload a 20 s
# 1280x720 clip to the second session of the first program, wait for the transcode job, and set
# the lecture's visibility. Then, for every run, start pufa with `--transcode-workers 0` and
# RUST_LOG=warn (with `--media-accel-redirect /_pufa_media/` for mode accel), start one nginx
# with two servers (the static `/media/` alias, and the proxy that includes
# deploy/nginx/pufa-accel.conf), and run `wrk -t2 -c64 -d15s --latency` against the segment URL.
set -euo pipefail

PUFA=${PUFA:-$(dirname "$0")/../target/release/pufa}
REPS=${REPS:-2}
DURATION=${DURATION:-15s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-18480}
NGINX_PORT=${NGINX_PORT:-18481}
ACCEL_PORT=${ACCEL_PORT:-18482}
MODES=${MODES:-pufa accel nginx}
VISIBILITY=${VISIBILITY:-registered}
PUFA_EXTRA=${PUFA_EXTRA:-}
ACCEL_PREFIX=/_pufa_media/
D=${BENCH_DIR:-$(mktemp -d /tmp/pufa-segments-bench.XXXXXX)}
HERE=$(cd "$(dirname "$0")/.." && pwd)
export PUFA_ADMIN_PASSWORD=${PUFA_ADMIN_PASSWORD:-bench-admin-password}
export RUST_LOG=${BENCH_RUST_LOG:-warn}
BASE=http://127.0.0.1:$PORT
JAR=$D/cookies.txt

for c in ffmpeg wrk nginx curl jq; do command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] || { echo "$c missing (make bench-deps)" >&2; exit 1; }; done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$PUFA" ] || { echo "pufa binary missing: $PUFA" >&2; exit 1; }
mkdir -p "$D/data" "$D/media"
S3S_FS=${S3S_FS:-${XDG_CACHE_HOME:-$HOME/.cache}/pufa-tools/bin/s3s-fs}
S3_PORT=${S3_PORT:-18483}
S3_BUCKET=bench
WANT_S3=; case " $MODES " in *" s3"*) WANT_S3=1 ;; esac
if [ -n "$WANT_S3" ]; then
  [ -x "$S3S_FS" ] || { echo "s3s-fs missing: $S3S_FS (make s3-tool)" >&2; exit 1; }
  export AWS_ACCESS_KEY_ID=bench-key AWS_SECRET_ACCESS_KEY=bench-secret-key
fi
S3_STORAGE="s3://$S3_BUCKET?endpoint=http://127.0.0.1:$S3_PORT&region=us-east-1"

PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

PUFA_PID=
PUFA_BIN=$PUFA
start_pufa() { # extra args...
  "$PUFA_BIN" serve --demo --data "$D/data" --media "$D/media" --listen "127.0.0.1:$PORT" "$@" \
    >>"$D/pufa.log" 2>&1 &
  PUFA_PID=$!; PIDS+=("$PUFA_PID")
  for _ in $(seq 1 100); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "pufa did not start, see $D/pufa.log" >&2; exit 1
}
stop_pufa() { [ -n "$PUFA_PID" ] && { kill "$PUFA_PID" 2>/dev/null; wait "$PUFA_PID" 2>/dev/null || true; PUFA_PID=; }; }
csrf() { awk '$6 == "pufa_csrf" {v = $7} END {print v}' "$JAR"; }
session_cookie() { awk '$6 == "pufa_session" {v = $7} END {print v}' "$JAR"; }

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
# the second session: the demo's own recording of the first is still being transcoded, and a
# session takes no new upload until its running transcode is done
SESSION=$(curl -fsS -b "$JAR" "$BASE/api/v1/programs/$PROGRAM" | jq -r '.sessions[1].id')
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
  --data-urlencode "csrf=$(csrf)" --data-urlencode "visibility=$VISIBILITY" \
  "$BASE/admin/lectures/$LECTURE/visibility"
stop_pufa

COOKIE=()
[ "$VISIBILITY" = public ] || COOKIE=(-H "Cookie: pufa_session=$(session_cookie)")

pufa_args() { # mode
  local a=(--transcode-workers 0)
  [ "$1" = base ] && { echo "${a[@]}"; return; }
  [ "$1" = accel ] && a+=(--media-accel-redirect "$ACCEL_PREFIX")
  [ "$1" = nogrant ] && a+=(--media-grant-secs 0)
  [ "$1" = cache ] && a+=(--media-sendfile false)
  [ "$1" = nocache ] && a+=(--media-sendfile false --media-cache-mb 0)
  [ "$1" = s3stream ] && a+=(--storage "$S3_STORAGE")
  [ "$1" = s3presigned ] && a+=(--storage "$S3_STORAGE" --media-delivery presigned --presign-secs 3600)
  # shellcheck disable=SC2206
  a+=($PUFA_EXTRA)
  echo "${a[@]}"
}

echo "== measurement: RUST_LOG=$RUST_LOG, visibility $VISIBILITY" >&2
# shellcheck disable=SC2046
start_pufa $(pufa_args pufa)
MASTER=/media/lectures/$LECTURE/v$JOB/master.m3u8
VARIANT=$(curl -fsS "${COOKIE[@]}" "$BASE$MASTER" | grep -v '^#' | grep -m1 .)   # first = highest rung
VARIANT_URL=$(dirname "$MASTER")/$VARIANT
SEGMENT=$(curl -fsS "${COOKIE[@]}" "$BASE$VARIANT_URL" | grep -v '^#' | grep -m1 .)
SEG_URL=$(dirname "$VARIANT_URL")/$SEGMENT
SEG_URL=${SEG_URL%%\?*}
SEG_FILE=$D/media${SEG_URL#/media}
[ -f "$SEG_FILE" ] || { echo "segment file not found on disk: $SEG_FILE" >&2; exit 1; }
if [ "$VISIBILITY" != public ]; then
  code=$(curl -sS -o /dev/null -w '%{http_code}' "$BASE$SEG_URL")
  [ "$code" = 401 ] || { echo "anonymous request to the private segment answered $code" >&2; exit 1; }
fi
stop_pufa

# the bucket: s3s-fs keeps an object as the file of its key under the bucket's folder, so the
# published version is copied there as it is on the disk (the same bytes)
S3_PID=; S3_DIRECT=
if [ -n "$WANT_S3" ]; then
  mkdir -p "$D/s3/$S3_BUCKET"
  cp -r "$D/media/lectures" "$D/s3/$S3_BUCKET/"
  "$S3S_FS" --host 127.0.0.1 --port "$S3_PORT" --access-key "$AWS_ACCESS_KEY_ID" \
    --secret-key "$AWS_SECRET_ACCESS_KEY" "$D/s3" >>"$D/s3s.log" 2>&1 &
  S3_PID=$!; PIDS+=("$S3_PID")
  for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && break; sleep 0.2; done
  # the presigned URL pufa hands out, for mode s3direct
  # shellcheck disable=SC2046
  start_pufa $(pufa_args s3presigned)
  S3_DIRECT=$(curl -sS "${COOKIE[@]}" -o /dev/null -w '%{redirect_url}' "$BASE$SEG_URL")
  [ -n "$S3_DIRECT" ] || { echo "pufa gave no presigned URL" >&2; exit 1; }
  stop_pufa
fi

# the documented accel location, with this run's media folder
ACCEL_CONF=$(sed "s#/var/lib/pufa/media/#$D/media/#" "$HERE/deploy/nginx/pufa-accel.conf")
grep -q "alias $D/media/;" <<<"$ACCEL_CONF" || { echo "pufa-accel.conf has no media alias" >&2; exit 1; }
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
  # (iii) nginx alone: the file, no access check
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location /media/ { alias $D/media/; }
  }
  # (ii) nginx in front of pufa: pufa checks, nginx sends
  upstream pufa { server 127.0.0.1:$PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$ACCEL_PORT;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host \$host;
    location / { proxy_pass http://pufa; }
$ACCEL_CONF
  }
}
CONF
"$NGINX" -p "$D/nginx" -c "$D/nginx/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!; PIDS+=("$NGINX_PID")
for _ in $(seq 1 50); do curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT$SEG_URL" 2>/dev/null && break; sleep 0.2; done

url_of() {
  case $1 in
    pufa | nogrant | cache | nocache | base | s3stream | s3presigned) echo "$BASE$SEG_URL" ;;
    s3direct) echo "$S3_DIRECT" ;;
    accel) echo "http://127.0.0.1:$ACCEL_PORT$SEG_URL" ;;
    nginx) echo "http://127.0.0.1:$NGINX_PORT$SEG_URL" ;;
  esac
}
sum_file=$(sha256sum "$SEG_FILE" | cut -c1-16)
echo "segment $SEG_URL ($(stat -c %s "$SEG_FILE") bytes, sha256 $sum_file…)" >&2

# CPU seconds: all processes since boot (/proc/stat), and one process plus its children.
HZ=$(getconf CLK_TCK)
busy_s() { awk -v hz="$HZ" '/^cpu / {print ($2 + $3 + $4 + $7 + $8 + $9) / hz}' /proc/stat; }
proc_cpu_s() { # pids...: each process and its direct children (nginx workers)
  local p t=0
  for p in $(for q in "$@"; do echo "$q"; pgrep -P "$q" || true; done); do
    [ -r "/proc/$p/stat" ] || continue
    t=$((t + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat")))
  done
  awk -v t="$t" -v hz="$HZ" 'BEGIN {printf "%.2f", t / hz}'
}

# wrk output → "req_s p50_ms p99_ms mb_s non2xx"
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}' <<<"$1"; }
to_mb() { awk '{v=$1; if (v ~ /GB$/) {sub(/GB$/,"",v); v*=1024} else if (v ~ /MB$/) {sub(/MB$/,"",v)} else if (v ~ /KB$/) {sub(/KB$/,"",v); v/=1024}; printf "%.0f", v}' <<<"$1"; }
results=$D/results.txt; : >"$results"
for rep in $(seq 1 "$REPS"); do
  for name in $MODES; do
    servers=("$NGINX_PID")
    if [ "$name" = s3direct ]; then
      servers=("$S3_PID")
    elif [ "$name" != nginx ]; then
      PUFA_BIN=$PUFA
      if [ "$name" = base ]; then
        PUFA_BIN=${PUFA_BASE:?mode base needs PUFA_BASE=/path/to/old/pufa}
      fi
      # shellcheck disable=SC2046
      start_pufa $(pufa_args "$name")
      servers=("$PUFA_PID")
      [ "$name" = accel ] && servers+=("$NGINX_PID")
      [ "$name" = s3stream ] && servers+=("$S3_PID")
    fi
    url=$(url_of "$name")
    # the body is the file (through nginx: the file nginx sent after pufa's answer)
    sum=$(curl -fsSL "${COOKIE[@]}" "$url" | sha256sum | cut -c1-16)
    [ "$sum" = "$sum_file" ] || { echo "$name: body sha256 $sum, file $sum_file" >&2; exit 1; }
    [ "$rep" = 1 ] && { echo "$name headers:" >&2; curl -fsS "${COOKIE[@]}" -D - -o /dev/null "$url" | tr -d '\r' | sed 's/^/  /' >&2; }
    echo "== wrk $name run $rep" >&2
    out=$D/wrk-$name-$rep.txt
    perf_pid=
    if [ "${PERF:-0}" = 1 ] && [ "$rep" = 1 ] && [ "$name" != nginx ]; then
      perf record -F 499 -g -o "$D/perf-$name.data" -p "$PUFA_PID" >/dev/null 2>&1 &
      perf_pid=$!
    fi
    b0=$(busy_s); s0=$(proc_cpu_s "${servers[@]}")
    /usr/bin/time -f '%U %S' -o "$D/wrk-time-$name-$rep.txt" \
      wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "${COOKIE[@]}" "$url" >"$out"
    b1=$(busy_s); s1=$(proc_cpu_s "${servers[@]}")
    [ -n "$perf_pid" ] && { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
    read -r wu ws <"$D/wrk-time-$name-$rep.txt"
    cpu=$(awk -v b0="$b0" -v b1="$b1" -v s0="$s0" -v s1="$s1" -v wu="$wu" -v ws="$ws" \
      'BEGIN {o = (b1 - b0) - (s1 - s0) - (wu + ws); if (o < 0) o = 0; printf "%.2f %.2f %.2f", s1 - s0, wu + ws, o}')
    req=$(awk '/^Requests\/sec/ {print $2}' "$out")
    total=$(awk '/requests in/ {print $1}' "$out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
    mbs=$(to_mb "$(awk '/^Transfer\/sec/ {print $2}' "$out")")
    bad=$(awk '/Non-2xx/ {print $NF} END {}' "$out"); bad=${bad:-0}
    echo "$name $rep $req $p50 $p99 $mbs $bad $cpu $total" | tee -a "$results" >&2
    [ "$name" != nginx ] && [ "$name" != s3direct ] && stop_pufa
    PUFA_BIN=$PUFA
  done
done

echo
echo "segment: $SEG_URL, $(stat -c %s "$SEG_FILE") bytes, lecture $VISIBILITY$( [ ${#COOKIE[@]} -gt 0 ] && echo ', session cookie on every request'); wrk -t$THREADS -c$CONNS -d$DURATION --latency; nproc=$(nproc); RUST_LOG=$RUST_LOG; pufa flags: ${PUFA_EXTRA:-none}"
echo
echo "| server | run | req/s | p50 ms | p99 ms | MiB/s | non-2xx | server CPU s | server CPU ms/req | wrk CPU s | other CPU s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
awk '{printf "| %s | %d | %.0f | %.2f | %.2f | %s | %s | %s | %.2f | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, ($11 > 0 ? 1000 * $8 / $11 : 0), $9, $10}' "$results"
echo
# on a busy machine req/s follows what the other processes leave over; CPU per request does not:
# "server" is the server's own (pufa, pufa + nginx, nginx), "total" adds wrk's
awk '{r[$1]+=$3; p50[$1]+=$4; p99[$1]+=$5; sc[$1]+=$8; wc[$1]+=$9; q[$1]+=$11; o[$1]+=$10; n[$1]++}
  END {
    for (m in n) {
      s = 1000 * sc[m] / q[m]; t = 1000 * (sc[m] + wc[m]) / q[m]
      line = sprintf("mean %s: %.0f req/s, p50 %.2f ms, p99 %.2f ms; server CPU %.3f ms/req, total %.3f ms/req; other CPU %.1f s/run",
        m, r[m]/n[m], p50[m]/n[m], p99[m]/n[m], s, t, o[m]/n[m])
      if (("nginx" in n) && m != "nginx") {
        ns = 1000 * sc["nginx"] / q["nginx"]; nt = 1000 * (sc["nginx"] + wc["nginx"]) / q["nginx"]
        line = line sprintf("; vs nginx: req/s %.2fx, server CPU/req %.2fx, total CPU/req %.2fx",
          (r[m]/n[m]) / (r["nginx"]/n["nginx"]), s / ns, t / nt)
      }
      print line
    }
  }' "$results" | sort
echo "logs and wrk output: $D"
