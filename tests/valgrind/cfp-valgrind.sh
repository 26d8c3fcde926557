#!/bin/sh
# Runs the real cfp binary ($CFP_REAL_BIN) under valgrind's memcheck, for
# `make test-valgrind`: the CLI tests call this in place of cfp. Each run logs
# to $CFP_VALGRIND_LOGS/vg.PID.log; a memory error or a definite leak makes
# the run exit 99 (and so fail its test), and tests/valgrind/check.sh reads
# the logs afterwards. Leaks FFmpeg, OpenBLAS or oneDNN keep for the life of
# the process ("still reachable") are not errors. CFP_VALGRIND_LIBPATH
# holds the libhwy stand-in (see hwy_stub.c).
LD_LIBRARY_PATH="${CFP_VALGRIND_LIBPATH:+$CFP_VALGRIND_LIBPATH:}${LD_LIBRARY_PATH:-}"
export LD_LIBRARY_PATH
exec valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --track-origins=no --num-callers=30 \
    --log-file="${CFP_VALGRIND_LOGS:-/tmp}/vg.%p.log" "$CFP_REAL_BIN" "$@"
