#!/bin/sh
# make test-full: export full-size torchvision r3d_18, mc3_18, r2plus1d_18 and
# s3d with random weights (Debian's PyTorch), then compare cfp with PyTorch.
# The models (~130 MB each) are cached in $CFP_FULL_DIR (default build/full).
set -e
BUILD=${1:-build}
DIR=${CFP_FULL_DIR:-$BUILD/full}
CFP_DEPS_EXTRA="python3-torch python3-torchvision python3-onnx" scripts/install-deps.sh
/usr/bin/python3 scripts/make_full.py "$DIR"
make -s "$BUILD/cfp_test"
CFP_POISON=1 CFP_SOURCE_DIR=$(pwd) CFP_FIXTURE_DIR=$DIR CFP_TEST_VERBOSE=1 "$BUILD/cfp_test" fixture_
