#!/bin/sh
# Installs the Debian packages cfp needs to build and test (idempotent).
# As root it installs what is missing; otherwise it prints the one line to run.
# CFP_DEPS_EXTRA adds packages (e.g. the PyTorch ones for `make test-full`).
set -e
PKGS="build-essential pkg-config libopenblas-dev libdnnl-dev libonnx-testdata libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg python3-numpy python3-scipy libpng-dev libgif-dev chromium $CFP_DEPS_EXTRA"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "install-deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing
else
    echo "install-deps: missing packages. Run:"
    echo "  sudo apt-get install -y$missing"
    exit 1
fi
