#!/bin/sh
# fuzz/seeds.sh OUT — generated seeds (each at most 100 KB) for the fuzz
# targets, into OUT/<target>/; the committed ones are in fuzz/corpus/.
#   onnx:    every ONNX node-test model of Debian's libonnx-testdata, and the
#            small fixture models
#   tensor:  the node tests' input/output TensorProtos, the small fixtures' .pb
#   sidecar: the bundled models' sidecars and labels
#   video:   short clips of every codec tests/video/make_clips.sh makes,
#            including its truncated and empty ones
set -e
out=$1
data=/usr/share/libonnx-testdata/data
mkdir -p "$out/onnx" "$out/tensor" "$out/sidecar" "$out/video"
if [ -d "$data" ]; then
    find "$data" -name model.onnx -size -100k | while read -r f; do
        d=$(basename "$(dirname "$f")")
        cp "$f" "$out/onnx/$d.onnx"
    done
    find "$data/node" -name '*.pb' -size -100k | while read -r f; do
        t=$(basename "$(dirname "$(dirname "$f")")")
        cp "$f" "$out/tensor/$t-$(basename "$f")"
    done
else
    echo "fuzz/seeds.sh: $data missing (libonnx-testdata): fewer seeds" >&2
fi
find tests/fixtures -name model.onnx -size -100k -exec sh -c 'cp "$1" "$2/onnx/fixture-$(basename "$(dirname "$1")").onnx"' _ {} "$out" \;
find tests/fixtures -name '*.pb' -size -100k -exec sh -c 'cp "$1" "$2/tensor/fixture-$(echo "$1" | tr / _)"' _ {} "$out" \;
for j in models/*/*.onnx.json; do [ -f "$j" ] && cp "$j" "$out/sidecar/$(echo "$j" | tr / _)"; done
for l in models/*/labels.txt; do [ -f "$l" ] && cp "$l" "$out/sidecar/$(echo "$l" | tr / _)"; done
if command -v ffmpeg >/dev/null; then
    tmp=$(mktemp -d)
    sh tests/video/make_clips.sh "$tmp" >/dev/null 2>&1 || true
    for f in "$tmp"/*.*; do
        [ -f "$f" ] || continue
        [ "$(stat -c %s "$f")" -le 102400 ] && cp "$f" "$out/video/"
    done
    # a few frames each: fuzzing decodes fast
    ff() { ffmpeg -nostdin -v error -y "$@"; }
    ff -f lavfi -i testsrc2=size=32x24:rate=25:duration=0.4 -c:v libx264 -pix_fmt yuv420p "$out/video/tiny.mp4" || true
    ff -f lavfi -i testsrc2=size=32x24:rate=25:duration=0.4 -c:v mjpeg "$out/video/tiny.avi" || true
    ff -f lavfi -i testsrc2=size=32x24:rate=25:duration=0.4 -c:v mpeg4 "$out/video/tiny-mpeg4.mkv" || true
    ff -f lavfi -i testsrc2=size=32x24:rate=25:duration=0.4 -c:v libvpx-vp9 -deadline realtime "$out/video/tiny.webm" || true
    ff -f lavfi -i testsrc2=size=32x24:rate=25:duration=0.4 -c:v gif "$out/video/tiny.gif" || true
    ff -f lavfi -i testsrc2=size=32x24:rate=25:duration=0.4 -c:v ffv1 "$out/video/tiny.mkv" || true
    rm -rf "$tmp"
fi
echo "fuzz/seeds.sh: $(ls "$out/onnx" | wc -l) onnx, $(ls "$out/tensor" | wc -l) tensor, $(ls "$out/sidecar" | wc -l) sidecar, $(ls "$out/video" | wc -l) video seeds in $out"
