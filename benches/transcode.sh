#!/usr/bin/env bash
# Transcoding benchmark, equal work: `pufa transcode` (remux fast path and standard path) vs the
# ffmpeg CLI doing the same 3-rung HLS ladder (1080/720/360, 6 s fMP4 segments, audio once).
#
#   benches/transcode.sh     # PUFA=bench-bin/pufa REPS=1 CLIPS="hd phone" SIDES="..." QUALITY=1
#
# Inputs (made once with ffmpeg lavfi into BENCH_DIR):
#   hd     60 s 1920x1080 30 fps H.264 (x264 veryfast, 2 s GOP, B-frames), AAC 48 kHz stereo
#   phone  60 s 1920x1080 VFR (timestamps jittered, every 7th frame dropped: ~25.7 fps),
#          1 s GOP, no B-frames, High profile, AAC-LC 48 kHz stereo: what a phone uploads
# Sides (each under /usr/bin/time -v, alternated within a rep):
#   fast     pufa, default path (remux fast path when the source qualifies)
#   std      pufa with PUFA_TRANSCODE_STANDARD=1 (every rung decoded, scaled, encoded)
#   cli      ffmpeg CLI, same ladder in one process
#   stdcrf   pufa standard path with CRF 23 + caps (the rate control shipped before issue 19)
# Rate control for fast/std/cli is the same: the ladder's average bitrates as x264 ABR targets
# with the ladder's maxrate and bufsize = 2 × maxrate (PUFA_RATE_CONTROL=bitrate), so every
# side spends the same bits on the encoded rungs; the copied rung keeps the source's bits.
# Per run: wall time, CPU, peak RSS, other processes' CPU (from /proc/stat), bytes per rung.
# With QUALITY=1, per rung of the first rep: SSIM (and dB = -10·log10(1-SSIM)) and PSNR
# against the source scaled to the rung's size, on both sides resampled to 10 fps from their
# own start (so a CFR output and a VFR source line up frame for frame).
set -euo pipefail

PUFA=${PUFA:-$(dirname "$0")/../bench-bin/pufa}
REPS=${REPS:-1}
DURATION=${DURATION:-60}
CLIPS=${CLIPS:-"hd phone"}
SIDES=${SIDES:-"fast std cli stdcrf"}
QUALITY=${QUALITY:-1}
BENCH_DIR=${BENCH_DIR:-$(mktemp -d /tmp/pufa-transcode-bench.XXXXXX)}
mkdir -p "$BENCH_DIR"
PUFA=$(realpath "$PUFA")

command -v ffmpeg >/dev/null || { echo "ffmpeg missing" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing (apt-get install time)" >&2; exit 1; }
[ -x "$PUFA" ] || { echo "pufa binary missing: $PUFA" >&2; exit 1; }

make_clip() { # $1 = hd|phone
  local clip="$BENCH_DIR/clip-$1.mp4"
  [ -s "$clip" ] && { echo "$clip"; return; }
  echo "== making $clip" >&2
  local video=(-c:v libx264 -preset veryfast -pix_fmt yuv420p -g 60 -keyint_min 60 -sc_threshold 0)
  if [ "$1" = phone ]; then
    video=(-vf "setpts='PTS+0.01*random(1)/TB',select='not(eq(mod(n\,7)\,3))'" -fps_mode vfr
           -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -bf 0
           -force_key_frames 'expr:gte(t,n_forced*1)' -sc_threshold 0)
  fi
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i testsrc2=size=1920x1080:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=48000 \
    -t "$DURATION" "${video[@]}" -c:a aac -ac 2 -ar 48000 -shortest "$clip"
  echo "$clip"
}

# pufa's ladder for 30 fps (src/media/ladder.rs: pixels × fps × bpp; bpp avg/max 0.10/0.17 at
# 1080p, 0.11/0.19 at 720p, 0.15/0.26 at 360p).
AVG1080=6220800; AVG720=3041280; AVG360=1036800
MAX1080=10575360; MAX720=5253120; MAX360=1797120

run_fast() { PUFA_RATE_CONTROL=bitrate "$PUFA" transcode "$CLIP" -o "$1" --ladder 1080,720,360; }
run_std() {
  PUFA_TRANSCODE_STANDARD=1 PUFA_RATE_CONTROL=bitrate \
    "$PUFA" transcode "$CLIP" -o "$1" --ladder 1080,720,360
}
run_stdcrf() {
  PUFA_TRANSCODE_STANDARD=1 PUFA_RATE_CONTROL=crf \
    "$PUFA" transcode "$CLIP" -o "$1" --ladder 1080,720,360
}
run_cli() { # the audio is encoded once, in its own rendition group, as pufa does
  mkdir -p "$1"
  ffmpeg -hide_banner -loglevel error -y -i "$CLIP" \
    -filter_complex "[0:v]split=3[a][b][c];[a]scale=1920:1080[v0];[b]scale=1280:720[v1];[c]scale=640:360[v2]" \
    -map "[v0]" -map "[v1]" -map "[v2]" -map 0:a:0 \
    -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p \
    -b:v:0 $AVG1080 -maxrate:v:0 $MAX1080 -bufsize:v:0 $((MAX1080 * 2)) \
    -b:v:1 $AVG720 -maxrate:v:1 $MAX720 -bufsize:v:1 $((MAX720 * 2)) \
    -b:v:2 $AVG360 -maxrate:v:2 $MAX360 -bufsize:v:2 $((MAX360 * 2)) \
    -g 60 -keyint_min 60 -sc_threshold 0 \
    -c:a aac -b:a 128k -ar 48000 -ac 2 \
    -f hls -hls_time 6 -hls_playlist_type vod -hls_segment_type fmp4 \
    -hls_segment_filename "$1/v%v/seg_%05d.m4s" -master_pl_name master.m3u8 \
    -var_stream_map "v:0,agroup:aud v:1,agroup:aud v:2,agroup:aud a:0,agroup:aud" \
    "$1/v%v/index.m3u8"
}

# CPU seconds all processes have spent since boot (from /proc/stat), to spot disturbed runs.
busy_s() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / {print ($2 + $3 + $4 + $7 + $8 + $9) / hz}' /proc/stat; }

# The video rung folders of an output, highest first: "name dir".
rungs() { # $1 = side, $2 = out
  if [ "$1" = cli ]; then
    echo "1080p $2/v0"; echo "720p $2/v1"; echo "360p $2/v2"
  else
    for r in 1080p 720p 360p; do echo "$r $2/$r"; done
  fi
}

# $1 = clip name, $2 = side, $3 = rep → one line of results
measure() {
  local clipname=$1 side=$2 rep=$3 out="$BENCH_DIR/out-$1-$2-$3" tv="$BENCH_DIR/time-$1-$2-$3.txt"
  rm -rf "$out"
  local busy0 busy1; busy0=$(busy_s)
  /usr/bin/time -v -o "$tv" bash -c "$(declare -f run_"$side"); $(declare -p CLIP PUFA AVG1080 AVG720 AVG360 MAX1080 MAX720 MAX360); run_$side '$out'" \
    >"$BENCH_DIR/log-$clipname-$side-$rep.txt" 2>&1 || { echo "$side run $rep failed, see $BENCH_DIR/log-$clipname-$side-$rep.txt" >&2; exit 1; }
  busy1=$(busy_s)
  local bytes=""
  while read -r name dir; do
    bytes="$bytes $( (cat "$dir"/*.m4s "$dir"/init*.mp4 2>/dev/null || true) | wc -c)"
  done < <(rungs "$side" "$out")
  local path; path=$(grep -o 'path: [a-z]*, [a-z_]*' "$BENCH_DIR/log-$clipname-$side-$rep.txt" | tr -d ',' | awk '{print $2"/"$3}' || true)
  awk -v clip="$clipname" -v side="$side" -v rep="$rep" -v path="${path:-cli}" -v bytes="$bytes" \
      -v busy="$(awk -v a="$busy0" -v b="$busy1" 'BEGIN {print b - a}')" '
    /User time/ {u=$NF} /System time/ {s=$NF}
    /Elapsed \(wall clock\)/ {n=split($NF,p,":"); w=0; for(i=1;i<=n;i++) w=w*60+p[i]}
    /Maximum resident set size/ {r=$NF/1024}
    END {other = busy - (u + s); if (other < 0) other = 0; split(bytes, b, " ")
         printf "%s %s %d %.2f %.2f %.1f %.2f %.2f %.2f %.2f %s\n", clip, side, rep, w, u+s, r, other,
                b[1]/1e6, b[2]/1e6, b[3]/1e6, path}' "$tv"
}

# SSIM/PSNR of one rung against the source: "ssim ssim_db psnr"
quality() { # $1 = rung dir, $2 = source
  # -nostdin and </dev/null: called inside `while read`, ffmpeg would otherwise eat the list of
  # rungs from stdin (only the first rung was measured, and it as 0)
  local w h; read -r w h < <(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 "$1/index.m3u8" </dev/null | head -1 | tr ',' ' ')
  ffmpeg -nostdin -hide_banner -nostats -threads 2 -i "$1/index.m3u8" -i "$2" -lavfi \
    "[0:v]setpts=PTS-STARTPTS,fps=10,format=yuv420p,split[d1][d2];[1:v]setpts=PTS-STARTPTS,fps=10,scale=$w:$h:flags=bicubic,format=yuv420p,split[r1][r2];[d1][r1]ssim;[d2][r2]psnr" \
    -f null - 2>&1 | awk '/SSIM Y/ {for(i=1;i<=NF;i++) if ($i ~ /^All:/) {split($i,a,":"); s=a[2]}}
                          /PSNR y/ {for(i=1;i<=NF;i++) if ($i ~ /^average:/) {split($i,a,":"); p=a[2]}}
                          END {db = (s < 1) ? -10*log(1-s)/log(10) : 99; printf "%.5f %.2f %.2f\n", s, db, p}'
}

results="$BENCH_DIR/results.txt"; : >"$results"
qualities="$BENCH_DIR/quality.txt"; : >"$qualities"
for clipname in $CLIPS; do
  CLIP=$(make_clip "$clipname")
  for rep in $(seq 1 "$REPS"); do
    for side in $SIDES; do
      echo "== $clipname $side run $rep" >&2
      measure "$clipname" "$side" "$rep" | tee -a "$results" >&2
    done
  done
  if [ "$QUALITY" = 1 ]; then
    for side in $SIDES; do
      while read -r name dir; do
        echo "== quality $clipname $side $name" >&2
        echo "$clipname $side $name $(quality "$dir" "$CLIP")" | tee -a "$qualities" >&2
      done < <(rungs "$side" "$BENCH_DIR/out-$clipname-$side-1")
    done
  fi
done

echo
echo "nproc=$(nproc); pufa: $PUFA; ffmpeg: $(ffmpeg -version | head -1 | cut -d' ' -f3)"
for clipname in $CLIPS; do echo "clip $clipname: $BENCH_DIR/clip-$clipname.mp4 ($(du -m "$BENCH_DIR/clip-$clipname.mp4" | cut -f1) MiB)"; done
echo
echo "| clip | side | run | wall s | CPU s | peak RSS MiB | other CPU s | MB 1080p | MB 720p | MB 360p | path |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
awk '{printf "| %s | %s | %d | %.2f | %.2f | %.1f | %.2f | %.2f | %.2f | %.2f | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11}' "$results"
if [ -s "$qualities" ]; then
  echo
  echo "| clip | side | rung | SSIM | SSIM dB | PSNR dB |"
  echo "|---|---|---|---:|---:|---:|"
  awk '{printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6}' "$qualities"
fi
echo
awk '
  { w[$1" "$2] += $4; n[$1" "$2]++ }
  END { for (k in w) { split(k, p, " "); m[p[1]" "p[2]] = w[k] / n[k] }
        for (k in m) { split(k, p, " "); if (p[2] != "cli" && (p[1]" cli") in m)
          printf "%s: %s / cli wall = %.2fx (mean of runs)\n", p[1], p[2], m[k] / m[p[1]" cli"] } }' "$results" | sort
echo "outputs and /usr/bin/time logs: $BENCH_DIR"
