#!/bin/sh
# fuzz/run.sh BUILD SECONDS TARGET... — runs each libFuzzer target in turn for
# SECONDS from the committed seeds (fuzz/corpus/T) plus what earlier runs
# found (BUILD/corpus/T), one at a time and at low priority. A crash stops
# the target and leaves its input in BUILD/artifacts/T/; the script then
# exits non-zero. Prints libFuzzer's final line for each target. FUZZ_ARGS
# adds libFuzzer flags, e.g. "-fork=1 -ignore_crashes=1" to go on after a
# crash (long runs).
set -u
build=$1 secs=$2
shift 2
status=0
for t in "$@"; do
    bin=$build/fuzz_$t
    mkdir -p "$build/corpus/$t" "$build/artifacts/$t" fuzz/corpus/$t
    log=$build/fuzz_$t.log
    echo "fuzz: $t for ${secs}s (log $log)"
    nice -n 19 "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 -max_len=262144 \
        -artifact_prefix="$build/artifacts/$t/" -print_final_stats=1 ${FUZZ_ARGS:-} \
        "$build/corpus/$t" "fuzz/corpus/$t" $(test -d "$build/seeds/$t" && echo "$build/seeds/$t") >"$log" 2>&1
    rc=$?
    grep -E '^#[0-9]+:?[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED|cov:)' "$log" | tail -1
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log"
    if [ $rc -ne 0 ]; then
        echo "fuzz: $t FAILED (exit $rc):"
        grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5
        status=1
    fi
done
exit $status
