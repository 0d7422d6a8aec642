#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60; MEDVOX_FUZZ_RUNS=N stops at N executions) under AddressSanitizer with libFuzzer's
# RSS and malloc caps. Usage: Fuzz/run_all.sh [SECONDS] [TARGET...]
# Builds into .build-fuzz (outside the main build), corpora in Fuzz/corpus/<Target> (seeded from
# Fixtures by make_corpus.py, grown by the runs, not committed), crashes in Fuzz/crashes/<Target>.
# A crash: reduce it, copy it to Fixtures/fuzz-regressions/, fix the reader and add a test that
# reads it (Tests/medvoxCLITests/FuzzRegressionCLITests.swift expects exit 1 and a one-line error
# from `medvox convert` on each DICOM; Tests/MedVoxTransformsTests/FuzzRegressionTests.swift a clean
# MedVoxError from each config). make_corpus.py runs on the test oracles' Python: $MEDVOX_PYTHON,
# default .venv/bin/python3 (made by Tools/setup.sh).
# Prints one line per target: executions, seconds, exec/s, crashes; exits 1 if any target crashed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
seconds=${1:-60}
shift || true
all=(FuzzDICOM FuzzRLE FuzzJPEGLossless FuzzJPEG FuzzJPEGLS FuzzJPEG2000 FuzzNIfTI FuzzSafetensors FuzzModelCard FuzzConfigs FuzzONNX)
targets=("${@:-${all[@]}}")
[ $# -eq 0 ] && targets=("${all[@]}")
scratch=${MEDVOX_FUZZ_BUILD:-$root/.build-fuzz}
rss=${MEDVOX_FUZZ_RSS_MB:-1024}
malloc=${MEDVOX_FUZZ_MALLOC_MB:-512}
# MEDVOX_FUZZ_KEEP_GOING=1: libFuzzer's fork mode with -ignore_crashes, to look past a known crash
# (crashes still land in crashes/<Target>/); executions are then read from the last status line.
extra=()
[ "${MEDVOX_FUZZ_KEEP_GOING:-0}" = 1 ] && extra=(-fork=1 -ignore_crashes=1)
# MEDVOX_FUZZ_RUNS=N: also stop a target after N executions (whichever of time and runs comes first).
[ -n "${MEDVOX_FUZZ_RUNS:-}" ] && extra+=(-runs="$MEDVOX_FUZZ_RUNS")
cd "$here"
mkdir -p "$scratch"
for t in "${targets[@]}"; do
    swift build -c release --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
        --product "$t" >"$scratch/fuzz-$t.build.log" 2>&1 || { echo "$t: build failed, see $scratch/fuzz-$t.build.log"; exit 2; }
done
bin=$(swift build -c release --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --show-bin-path)
[ -d corpus ] || "${MEDVOX_PYTHON:-$root/.venv/bin/python3}" make_corpus.py corpus >/dev/null
mkdir -p crashes
export TMPDIR=${TMPDIR:-/tmp}
# The Swift runtime's backtracer, under ASan, hangs or reports its own memory reads: off.
export SWIFT_BACKTRACE=enable=no
failed=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "crashes/$t"
    log="crashes/$t.log"
    start=$(date +%s.%N)
    "$bin/$t" "corpus/$t" -max_total_time="$seconds" -rss_limit_mb="$rss" -malloc_limit_mb="$malloc" \
        -timeout=10 -max_len=65536 -print_final_stats=1 -artifact_prefix="crashes/$t/" "${extra[@]}" >"$log" 2>&1
    status=$?
    end=$(date +%s.%N)
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    [ -z "$runs" ] && runs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    n=$(find "crashes/$t" -type f | wc -l)
    printf '%-18s %10s execs %7.1f s %8.0f exec/s  exit %d  artifacts %d\n' "$t" "${runs:-?}" \
        "$(echo "$end - $start" | bc)" "$(echo "${runs:-0} / ($end - $start)" | bc -l)" "$status" "$n"
    [ "$status" -ne 0 ] || [ "$n" -ne 0 ] && failed=1
done
exit $failed
