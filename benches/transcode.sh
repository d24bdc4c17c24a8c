#!/usr/bin/env bash
# Transcoding benchmark: `pufa transcode` vs the ffmpeg CLI doing the same 3-rung HLS ladder.
#
#   benches/transcode.sh            # PUFA=/work/target-bench/release/pufa REPS=2 BENCH_DIR=tmp
#
# Makes a 60 s 1080p30 H.264 + AAC clip, then runs each side REPS times, alternating
# (pufa, ffmpeg, pufa, ffmpeg, ...), each under `/usr/bin/time -v`. Prints wall time, CPU time
# and peak RSS per run, and the pufa ÷ ffmpeg wall-time ratio of the medians.
set -euo pipefail

PUFA=${PUFA:-/work/target-bench/release/pufa}
REPS=${REPS:-2}
BENCH_DIR=${BENCH_DIR:-$(mktemp -d /tmp/pufa-transcode-bench.XXXXXX)}
CLIP=${CLIP:-$BENCH_DIR/clip-1080p30-60s.mp4}
mkdir -p "$BENCH_DIR"

command -v ffmpeg >/dev/null || { echo "ffmpeg missing" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing (apt-get install time)" >&2; exit 1; }
[ -x "$PUFA" ] || { echo "pufa binary missing: $PUFA" >&2; exit 1; }

if [ ! -s "$CLIP" ]; then
  echo "== making clip $CLIP" >&2
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i testsrc2=size=1920x1080:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=48000 \
    -t 60 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -shortest "$CLIP"
fi

# Bitrates as pufa's ladder plans them for 30 fps (src/media/ladder.rs: pixels × fps × bpp,
# bpp avg/max 0.10/0.17 at 1080p, 0.11/0.19 at 720p, 0.15/0.26 at 360p). pufa uses CRF 23 with
# VBV maxrate = max, bufsize = 2 × max, profile high, preset veryfast; the baseline does the same.
MAX1080=10575360; MAX720=5253120; MAX360=1797120

run_pufa() { # $1 = output dir
  "$PUFA" transcode "$CLIP" -o "$1" --ladder 1080,720,360
}

run_ffmpeg() { # $1 = output dir
  mkdir -p "$1"
  ffmpeg -hide_banner -loglevel error -y -i "$CLIP" \
    -filter_complex "[0:v]split=3[a][b][c];[a]scale=1920:1080[v0];[b]scale=1280:720[v1];[c]scale=640:360[v2]" \
    -map "[v0]" -map "[v1]" -map "[v2]" -map 0:a:0 -map 0:a:0 -map 0:a:0 \
    -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -crf 23 \
    -maxrate:v:0 $MAX1080 -bufsize:v:0 $((MAX1080 * 2)) \
    -maxrate:v:1 $MAX720 -bufsize:v:1 $((MAX720 * 2)) \
    -maxrate:v:2 $MAX360 -bufsize:v:2 $((MAX360 * 2)) \
    -g 60 -keyint_min 60 -sc_threshold 0 \
    -c:a aac -b:a 128k -ar 48000 -ac 2 \
    -f hls -hls_time 6 -hls_playlist_type vod -hls_segment_type fmp4 \
    -hls_segment_filename "$1/v%v/seg_%05d.m4s" \
    -master_pl_name master.m3u8 -var_stream_map "v:0,a:0 v:1,a:1 v:2,a:2" \
    "$1/v%v/index.m3u8"
}

# CPU seconds all processes have spent since boot (from /proc/stat), to spot disturbed runs.
busy_s() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / {print ($2 + $3 + $4 + $7 + $8 + $9) / hz}' /proc/stat; }

# $1 = name, $2 = rep → prints "name rep wall_s cpu_s maxrss_mib other_cpu_s output_mib"
measure() {
  local name=$1 rep=$2 out="$BENCH_DIR/out-$1-$2" tv="$BENCH_DIR/time-$1-$2.txt"
  rm -rf "$out"
  local busy0 busy1; busy0=$(busy_s)
  /usr/bin/time -v -o "$tv" bash -c "$(declare -f run_$name); $(declare -p CLIP PUFA MAX1080 MAX720 MAX360); run_$name '$out'" \
    >"$BENCH_DIR/log-$name-$rep.txt" 2>&1 || { echo "$name run $rep failed, see $BENCH_DIR/log-$name-$rep.txt" >&2; exit 1; }
  busy1=$(busy_s)
  awk -v name="$name" -v rep="$rep" -v busy="$(awk -v a="$busy0" -v b="$busy1" 'BEGIN {print b - a}')" -v size="$(du -sm "$out" | cut -f1)" '
    /User time/ {u=$NF} /System time/ {s=$NF}
    /Elapsed \(wall clock\)/ {n=split($NF,p,":"); w=0; for(i=1;i<=n;i++) w=w*60+p[i]}
    /Maximum resident set size/ {r=$NF/1024}
    END {other = busy - (u + s); if (other < 0) other = 0
                printf "%s %d %.2f %.2f %.1f %.2f %s\n", name, rep, w, u+s, r, other, size}' "$tv"
}

results="$BENCH_DIR/results.txt"; : >"$results"
for rep in $(seq 1 "$REPS"); do
  for name in pufa ffmpeg; do
    echo "== $name run $rep" >&2
    measure "$name" "$rep" | tee -a "$results" >&2
  done
done

echo
echo "clip: $CLIP ($(du -m "$CLIP" | cut -f1) MiB); nproc=$(nproc); pufa: $PUFA"
echo
echo "| tool | run | wall s | CPU s (user+sys) | peak RSS MiB | other processes CPU s | output MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|"
awk '{printf "| %s | %d | %.2f | %.2f | %.1f | %.2f | %s |\n", $1, $2, $3, $4, $5, $6, $7}' "$results"
echo
awk '
  function median(a, n,   i, j, t) { for(i=1;i<=n;i++) for(j=i+1;j<=n;j++) if(a[j]<a[i]) {t=a[i];a[i]=a[j];a[j]=t}
    return n%2 ? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2 }
  $1=="pufa" {pw[++np]=$3; pc[np]=$4; pr[np]=$5} $1=="ffmpeg" {fw[++nf]=$3; fc[nf]=$4; fr[nf]=$5}
  END {
    mpw=median(pw,np); mfw=median(fw,nf); mpc=median(pc,np); mfc=median(fc,nf); mpr=median(pr,np); mfr=median(fr,nf)
    printf "median wall: pufa %.2f s, ffmpeg %.2f s, pufa/ffmpeg = %.2fx\n", mpw, mfw, mpw/mfw
    printf "median CPU:  pufa %.2f s, ffmpeg %.2f s, pufa/ffmpeg = %.2fx\n", mpc, mfc, mpc/mfc
    printf "median peak RSS: pufa %.1f MiB, ffmpeg %.1f MiB, pufa/ffmpeg = %.2fx\n", mpr, mfr, mpr/mfr
  }' "$results"
echo "outputs and /usr/bin/time logs: $BENCH_DIR"
