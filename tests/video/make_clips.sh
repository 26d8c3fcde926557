#!/bin/sh
# Synthetic test clips for tests/test_video.c, made with Debian's ffmpeg into
# the folder $1 (small: the whole set takes about a second to make).
set -e
out=$1
mkdir -p "$out"
cd "$out"
ff() { ffmpeg -nostdin -v error -y "$@"; }
src() { echo "testsrc2=size=$1:rate=25:duration=$2"; }
odd="format=yuv444p,crop=97:71:0:0"  # testsrc2 makes even sizes only
# one clip per codec; odd sizes where the codec allows them
ff -f lavfi -i "$(src 96x72 1.2)" -c:v libx264 -pix_fmt yuv420p h264.mp4
ff -f lavfi -i "$(src 98x74 1.2)" -c:v mpeg4 -q:v 4 mpeg4.avi
ff -f lavfi -i "$(src 90x66 1.2)" -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 200k vp9.webm
ff -f lavfi -i "$(src 98x72 1.2)" -vf $odd -c:v mjpeg -q:v 3 -pix_fmt yuvj420p mjpeg.avi
ff -f lavfi -i "$(src 98x72 1.2)" -vf $odd -c:v ffv1 ffv1.mkv
ff -f lavfi -i "$(src 80x48 1.2)" -c:v libtheora -q:v 6 theora.ogv
# a keyframe every 10 frames (0, 10, 20), B-frames as libx264 makes them
ff -f lavfi -i "$(src 96x72 1.2)" -c:v libx264 -g 10 -keyint_min 10 -sc_threshold 0 -pix_fmt yuv420p h264_g10.mp4
# full-range H.264 (decodes to yuvj420p) and rotation metadata (a phone held upright)
ff -f lavfi -i "$(src 96x64 1.2)" -c:v libx264 -pix_fmt yuvj420p h264j.mp4
ff -i h264.mp4 -c copy -metadata:s:v:0 rotate=90 rot90.mp4
ff -i h264.mp4 -c copy -metadata:s:v:0 rotate=270 rot270.mp4
# variable frame rate: frame n shown at 0.04*n + 0.03*(n mod 2) seconds
ff -f lavfi -i "$(src 64x48 1.2)" -vf "settb=1/1000,setpts=(N*0.04+0.03*mod(N\,2))/TB" -fps_mode vfr -c:v libx264 -enc_time_base 1:1000 -pix_fmt yuv420p vfr.mkv
# a folder of frames, by pattern, and a folder named so that only natural order is right
mkdir -p frames png
ff -f lavfi -i "$(src 98x72 0.4)" -vf $odd -q:v 3 frames/%05d.jpg
ff -f lavfi -i "$(src 64x48 0.48)" -start_number 1 png/%d.png
# bad videos
printf 'this is not a video\n' > text.mp4
head -c 3000 h264.mp4 > truncated.mp4
ff -i h264.mp4 -c copy -frames:v 0 empty.mp4
