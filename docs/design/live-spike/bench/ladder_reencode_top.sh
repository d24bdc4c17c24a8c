#!/bin/bash
# Live-HLS ladder throughput proxy: 1080p passthrough + 720p + 360p libx264 + AAC, fMP4 HLS.
# usage: bench/ladder.sh NAME PRESET THREADS [extra ffmpeg input flags e.g. -re]
# THREADS = per-encoder libx264 threads (0 = auto). Prints wall speed, CPU seconds, load.
set -u
NAME=$1; PRESET=$2; THREADS=$3; shift 3
cd "$(dirname "$0")/.."
SRC=${SRC:-media/src1080.mp4}
OUT=out/$NAME
rm -rf "$OUT"; mkdir -p "$OUT"
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
/usr/bin/time -f "TIME wall=%e user=%U sys=%S" nice -n 10 ffmpeg -hide_banner -nostdin -y "$@" -i $SRC \
  -filter_complex "[0:v]split=2[a][b];[a]scale=-2:720[v720];[b]scale=-2:360[v360]" \
  -map 0:v -map "[v720]" -map "[v360]" -map 0:a \
  -c:v:0 libx264 -preset $PRESET -b:v:0 5000k -maxrate:v:0 5500k -bufsize:v:0 10000k -force_key_frames:v:0 "expr:gte(t,n_forced*2)" -sc_threshold:v:0 0 -g:v:0 600 \
  -c:v:1 libx264 -preset $PRESET -threads:v:1 $THREADS -b:v:1 2800k -maxrate:v:1 3000k -bufsize:v:1 6000k -force_key_frames:v:1 "expr:gte(t,n_forced*2)" -sc_threshold:v:1 0 -g:v:1 600 \
  -c:v:2 libx264 -preset $PRESET -threads:v:2 $THREADS -b:v:2 800k -maxrate:v:2 900k -bufsize:v:2 1800k -force_key_frames:v:2 "expr:gte(t,n_forced*2)" -sc_threshold:v:2 0 -g:v:2 600 \
  -c:a aac -b:a 128k -ar 48000 -ac 2 \
  -f hls -hls_time 2 -hls_list_size 0 -hls_segment_type fmp4 \
  -hls_flags independent_segments+program_date_time \
  -master_pl_name master.m3u8 \
  -var_stream_map "v:0,agroup:aud,name:1080 v:1,agroup:aud,name:720 v:2,agroup:aud,name:360 a:0,agroup:aud,name:audio" \
  -hls_segment_filename "$OUT/%v/seg_%05d.m4s" "$OUT/%v/index.m3u8" > "$OUT.log" 2>&1
LOAD1=$(cut -d' ' -f1 /proc/loadavg)
SPEED=$(tr '\r' '\n' < "$OUT.log" | grep -o 'speed=[ 0-9.x]*' | tail -1 | tr -d ' ')
T=$(grep TIME "$OUT.log")
USER=$(echo "$T" | sed 's/.*user=\([0-9.]*\).*/\1/'); SYS=$(echo "$T" | sed 's/.*sys=\([0-9.]*\).*/\1/')
CPU=$(echo "$USER + $SYS" | bc)
# CPU-seconds per media second: < 2.0 means it fits on the 2 cores; 2/x = headroom on an idle machine
echo "$NAME preset=$PRESET threads=$THREADS $* : $SPEED $T cpu/media_s=$(echo "scale=2; $CPU/60" | bc) idle_headroom=$(echo "scale=2; 120/$CPU" | bc)x load=$LOAD0->$LOAD1"
for v in 1080 720 360 audio; do
  printf "  %-5s segs=%s EXTINF=%s\n" $v "$(ls $OUT/$v/*.m4s 2>/dev/null | wc -l)" "$(grep EXTINF $OUT/$v/index.m3u8 | cut -d: -f2 | tr -d ',' | tr '\n' ' ' | cut -c1-120)"
done
