#!/bin/sh
# make demo: until the explain pipeline lands, describe and run the bundled
# small model (a narrow r3d_18 exported from PyTorch) on its bundled input.
set -e
BUILD=${1:-build}
M=tests/fixtures/r3d_18_bn
echo "== cfp info $M/model.onnx"
"$BUILD/cfp" info "$M/model.onnx"
echo
echo "== cfp run $M/model.onnx -i $M/test_data_set_0/input_0.pb -o $BUILD/demo_output.pb"
"$BUILD/cfp" run "$M/model.onnx" -i "$M/test_data_set_0/input_0.pb" -o "$BUILD/demo_output.pb"
echo
echo "output written to $BUILD/demo_output.pb"
