#!/bin/sh
# make demo: explain a sample clip with the bundled model and print where the
# report is. The model (models/demo/) was trained by scripts/train_demo.py on
# synthetic actions whose answer is known; see scripts/README.md.
set -e
BUILD=${1:-build}
OUT=$BUILD/demo-report
MODEL=models/demo/model.onnx
CLIP=$(ls models/demo/samples/*.mp4 2>/dev/null | head -n 1 || true)
start=$(date +%s.%N)
if [ -f "$MODEL" ] && [ -n "$CLIP" ]; then
    echo "== cfp predict $MODEL $CLIP"
    "$BUILD/cfp" predict "$MODEL" "$CLIP"
    echo
    echo "== cfp explain $MODEL $CLIP --out $OUT --force"
    "$BUILD/cfp" explain "$MODEL" "$CLIP" --out "$OUT" --force
else
    # no bundled model yet: a small r3d_18-shaped fixture on its test input
    M=tests/fixtures/r3d_18_bn
    echo "== cfp explain $M/model.onnx -i $M/test_data_set_0/input_0.pb --out $OUT --force"
    "$BUILD/cfp" explain "$M/model.onnx" -i "$M/test_data_set_0/input_0.pb" --out "$OUT" --force
fi
end=$(date +%s.%N)
echo
echo "report: $(pwd)/$OUT/index.html  (open it in a browser; $(awk "BEGIN { printf \"%.1f\", $end - $start }") s)"
