#!/bin/sh
# tests/valgrind/check.sh LOGDIR — sums up the valgrind logs of a
# `make test-valgrind` run; exits 1 if any run had a memory error or a
# definite leak.
dir=$1
n=$(ls "$dir"/vg.*.log 2>/dev/null | wc -l)
bad=$(grep -l -E 'Invalid (read|write|free)|uninitialised|definitely lost: [1-9]|Mismatched free|overlap' "$dir"/vg.*.log 2>/dev/null)
echo "valgrind: $n cfp runs under memcheck; $(echo "$bad" | grep -c . ) with errors or definite leaks"
if [ -n "$bad" ]; then
    for f in $bad; do echo "--- $f"; head -40 "$f"; done
    exit 1
fi
