#!/bin/sh
# Real video clips from Debian packages, for tests/test_video.c: opencv-doc's
# vtest.avi (MS-MPEG-4 v3, 768x576) and python3-imageio's cockatoo.mp4 (H.264
# yuv444p, 1280x720). Fetched with `apt-get download` (no installation) and
# unpacked with `dpkg-deb -x` into DEST (default build/samples), once.
set -e
dest=${1:-build/samples}
[ -s "$dest/vtest.avi" ] && [ -s "$dest/cockatoo.mp4" ] && exit 0
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fetch() { apt-get download -q=2 -o APT::Sandbox::User=root opencv-doc python3-imageio >/dev/null 2>apt.err; }
if ! fetch; then
    # no package lists yet (a fresh container): refresh them once, as root
    [ "$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1 || true
    if ! fetch; then
        echo "fetch-sample-videos: 'apt-get download opencv-doc python3-imageio' failed (no network?):" >&2
        head -3 apt.err >&2
        exit 1
    fi
fi
dpkg-deb -x opencv-doc_*.deb x
dpkg-deb -x python3-imageio_*.deb x
cp x/usr/share/doc/opencv-doc/examples/data/vtest.avi "$dest/vtest.avi.tmp"
cp x/usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4 "$dest/cockatoo.mp4.tmp"
mv "$dest/vtest.avi.tmp" "$dest/vtest.avi"
mv "$dest/cockatoo.mp4.tmp" "$dest/cockatoo.mp4"
