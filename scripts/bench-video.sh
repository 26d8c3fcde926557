#!/bin/sh
# The issue's decode number: 16 frames from the middle of a 60 s 720p H.264
# clip (testsrc2, 30 fps, libx264 defaults: keyframe every 250 frames), decoded
# and preprocessed with kinetics-r3d. The clip is made once into build/bench/.
set -e
cd "$(dirname "$0")/.."
mkdir -p build/bench
clip=build/bench/long720.mp4
[ -s "$clip" ] || ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=1280x720:rate=30:duration=60 \
    -c:v libx264 -pix_fmt yuv420p "$clip"
make -s build/libcfp.a
cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude bench/video_decode.c build/libcfp.a \
    $(pkg-config --libs openblas libavformat libavcodec libswscale libavutil) -lm -pthread -o build/bench/video_decode
echo "keyframes: $(ffprobe -v error -select_streams v -show_entries packet=pts_time,flags -of csv "$clip" | grep K | cut -d, -f2 | tr '\n' ' ')"
build/bench/video_decode "$clip" "${1:-30}" 16 kinetics-r3d 7
