#!/bin/sh
# make test-full: export full-size video models with random weights (Debian's
# PyTorch): torchvision's r3d_18, mc3_18, r2plus1d_18 and s3d, and the
# architectures of scripts/models/ (ResNet-50/101/152-3D, ResNeXt-101-3D, I3D,
# MFNet-3D, X3D-M/S, SlowFast R50); then compare cfp with PyTorch.
# The models (15-470 MB each, 1.9 GB in all) are cached in $CFP_FULL_DIR
# (default build/full); CFP_FULL_ONLY="r3d_18 i3d" exports and tests only those.
set -e
BUILD=${1:-build}
DIR=${CFP_FULL_DIR:-$BUILD/full}
CFP_DEPS_EXTRA="python3-torch python3-torchvision python3-onnx" scripts/install-deps.sh
/usr/bin/python3 scripts/make_full.py "$DIR" ${CFP_FULL_ONLY:+--only $CFP_FULL_ONLY}
make -s "$BUILD/cfp_test"
CFP_POISON=1 CFP_SOURCE_DIR=$(pwd) CFP_FIXTURE_DIR=$DIR CFP_TEST_VERBOSE=1 "$BUILD/cfp_test" fixture_
