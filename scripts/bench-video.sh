#!/bin/sh
# The issue's decode number: 16 frames from the middle of a 60 s 720p H.264
# clip (testsrc2, 30 fps), decoded and preprocessed with kinetics-r3d, for two
# keyframe spacings: libx264's default (every 250 frames: the window at 30 s is
# 150 frames after a keyframe) and a camera-like 1 s GOP (-g 30, as phones and
# most cameras write); each also with --keyframe (cfp_sampling.keyframe: the
# window starts at the keyframe at or before 30 s). The clips are made once
# into build/bench/.
# usage: scripts/bench-video.sh [START_SECONDS] [REPEATS]
set -e
cd "$(dirname "$0")/.."
mkdir -p build/bench
make -s build/libcfp.so
cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude bench/video_decode.c -Lbuild -lcfp -Wl,-rpath,"$PWD/build" \
    -o build/bench/video_decode
for gop in 250 30; do
    clip=build/bench/long720_g$gop.mp4
    [ -s "$clip" ] || ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=1280x720:rate=30:duration=60 \
        -c:v libx264 -g $gop -pix_fmt yuv420p "$clip"
    echo "== $clip (keyframe every $gop frames)"
    build/bench/video_decode "$clip" "${1:-30}" 16 kinetics-r3d "${2:-9}"
    echo "== $clip, --keyframe (the window moved back to the keyframe before it)"
    build/bench/video_decode "$clip" "${1:-30}" 16 kinetics-r3d "${2:-9}" keyframe
done
