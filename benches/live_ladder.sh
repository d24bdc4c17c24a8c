#!/usr/bin/env bash
# Live ladder headroom: pufa's live packager against the ffmpeg CLI doing the same work on the
# same publish — 1080p copied, 720p and 360p with libx264 veryfast CRF 23 under the same rate
# caps (maxrate, bufsize = 2×), IDRs at the source keyframes, AAC 48 kHz stereo 128 kbit/s,
# 2 s fMP4 segments — with the input read as fast as each takes it. Prints for each: speed
# (media s / wall s), CPU s per media s, bytes per rung and the SSIM of the 720p and 360p
# rungs over the first 2 minutes (equal work needs equal quality) — twice, because ffmpeg's ssim
# filter matches frames by timestamp: against the source (the FLV's millisecond timestamps) and
# against the same tool's copied top rung (the source's own bits with the rung's timestamps);
# a comparison whose timestamps do not line up compares neighbouring frames and reads low.
#
#   CLIP=src1080.flv benches/live_ladder.sh        # a recorded 1080p30 H.264/AAC FLV publish
#
# Make a 10-minute test publish with:
#   ffmpeg -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i sine=sample_rate=48000 -t 600 \
#     -c:v libx264 -preset veryfast -g 60 -keyint_min 60 -sc_threshold 0 -b:v 5M -maxrate 5M \
#     -bufsize 10M -c:a aac -b:a 128k -f flv src1080.flv
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CLIP:?CLIP=path to a 1080p30 H.264/AAC FLV}"
OUT=${OUT:-target/live-bench}
rm -rf "$OUT"; mkdir -p "$OUT"

echo "== pufa"
line=$(CLIP="$CLIP" OUT="$OUT/pufa" cargo bench -q --bench live_ladder 2>/dev/null | grep '^pufa live packager')
echo "$line"
max720=$(sed 's/.*maxrate_720=\([0-9]*\).*/\1/' <<<"$line")
max360=$(sed 's/.*maxrate_360=\([0-9]*\).*/\1/' <<<"$line")

echo "== ffmpeg CLI (same settings)"
mkdir -p "$OUT/cli"
/usr/bin/time -f "wall=%e user=%U sys=%S" -o "$OUT/cli.time" ffmpeg -hide_banner -nostdin -y -loglevel error -i "$CLIP" \
  -filter_complex "[0:v]split=2[a][b];[a]scale=-2:720[v720];[b]scale=-2:360[v360]" \
  -map 0:v -map "[v720]" -map "[v360]" -map 0:a \
  -c:v:0 copy \
  -c:v:1 libx264 -preset veryfast -crf 23 -maxrate:v:1 "$max720" -bufsize:v:1 $((max720 * 2)) -force_key_frames:v:1 source -sc_threshold:v:1 0 \
  -c:v:2 libx264 -preset veryfast -crf 23 -maxrate:v:2 "$max360" -bufsize:v:2 $((max360 * 2)) -force_key_frames:v:2 source -sc_threshold:v:2 0 \
  -c:a aac -b:a 128k -ar 48000 -ac 2 \
  -f hls -hls_time 2 -hls_list_size 0 -hls_segment_type fmp4 -hls_flags independent_segments \
  -master_pl_name master.m3u8 \
  -var_stream_map "v:0,agroup:aud,name:1080p v:1,agroup:aud,name:720p v:2,agroup:aud,name:360p a:0,agroup:aud,name:audio" \
  -hls_segment_filename "$OUT/cli/%v/seg_%05d.m4s" "$OUT/cli/%v/index.m3u8"
media=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$CLIP")
read -r wall user sys < <(sed 's/wall=\([0-9.]*\) user=\([0-9.]*\) sys=\([0-9.]*\)/\1 \2 \3/' "$OUT/cli.time")
echo "ffmpeg CLI: media=${media}s wall=${wall}s cpu=$(echo "$user + $sys" | bc)s speed=$(echo "scale=2; $media / $wall" | bc)x cpu_per_media_s=$(echo "scale=3; ($user + $sys) / $media" | bc)"

# bytes per rung and SSIM of the encoded rungs against the source scaled the same way
for who in pufa cli; do
  for rung in 1080p 720p 360p; do
    dir="$OUT/$who/$rung"
    [ -d "$dir" ] || continue
    cat "$dir/init.mp4" "$dir"/seg_*.m4s > "$OUT/$who-$rung.mp4" 2>/dev/null || \
      cat "$dir"/init*.mp4 "$dir"/seg_*.m4s > "$OUT/$who-$rung.mp4"
    bytes=$(cat "$dir"/*.m4s | wc -c)
    ssim=- ssim_top=-
    if [ "$rung" != 1080p ]; then
      h=${rung%p}
      # against the source, frames matched by timestamp
      ssim=$(ffmpeg -hide_banner -nostdin -t 120 -i "$OUT/$who-$rung.mp4" -t 120 -i "$CLIP" \
        -lavfi "[1:v]scale=-2:$h:flags=bicubic[ref];[0:v][ref]ssim" -f null - 2>&1 |
        sed -n 's/.*SSIM .*All:\([0-9.]*\) (\([0-9.]*\)).*/\1 (\2 dB)/p' | tail -1)
      # against the same tool's copied top rung: the source's own bits in the rung's container
      ssim_top=$(ffmpeg -hide_banner -nostdin -t 120 -i "$OUT/$who-$rung.mp4" -t 120 -i "$OUT/$who-1080p.mp4" \
        -lavfi "[1:v]scale=-2:$h:flags=bicubic[ref];[0:v][ref]ssim" -f null - 2>&1 |
        sed -n 's/.*SSIM .*All:\([0-9.]*\) (\([0-9.]*\)).*/\1 (\2 dB)/p' | tail -1)
    fi
    frames=$(ffprobe -v error -count_packets -select_streams v -show_entries stream=nb_read_packets -of csv=p=0 "$OUT/$who-$rung.mp4")
    printf "  %-4s %-5s frames=%-6s bytes=%-11s ssim_vs_source=%s ssim_vs_own_top_rung=%s\n" \
      "$who" "$rung" "$frames" "$bytes" "$ssim" "$ssim_top"
  done
done
