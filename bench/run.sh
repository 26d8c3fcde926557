#!/bin/sh
# make bench: cfp, ONNX Runtime and PyTorch side by side on this machine.
#   bench/run.sh [BUILD] [bench.py options: --rounds 5 --only r3d_18 ...]
# Needs node/npm (ONNX Runtime comes from npm, installed into bench/ort/) and
# Debian's PyTorch (python3-torch, python3-torchvision, python3-onnx).
# Models are exported once into bench/models/ (random weights, ~30-250 MB
# each; both folders are ignored by git). The table goes to stdout and, with
# the raw numbers, to bench/results/.
set -e
cd "$(dirname "$0")/.."
BUILD=${1:-build}
[ $# -gt 0 ] && shift
ORT_VERSION=1.30.0

if [ ! -f bench/ort/node_modules/onnxruntime-node/package.json ] ||
   ! grep -q "\"version\": \"$ORT_VERSION\"" bench/ort/node_modules/onnxruntime-node/package.json; then
    mkdir -p bench/ort
    # the package carries its CPU build; the install script would only fetch GPU ones
    (cd bench/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --prefix . \
        "onnxruntime-node@$ORT_VERSION" >&2)
fi
command -v npm >/dev/null || CFP_DEPS_EXTRA="nodejs npm" scripts/install-deps.sh
CFP_DEPS_EXTRA="python3-torch python3-torchvision python3-onnx" scripts/install-deps.sh
/usr/bin/python3 bench/models.py bench/models
mkdir -p bench/results
stamp=$(date -u +%Y%m%d-%H%M)
echo "bench: OPENBLAS_CORETYPE is unset for every timed program (it was '${OPENBLAS_CORETYPE-}' here)" >&2
/usr/bin/python3 bench/bench.py --cfp "$BUILD/cfp" --models bench/models --json "bench/results/$stamp.json" "$@" |
    tee "bench/results/$stamp.md"
