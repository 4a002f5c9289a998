#!/bin/sh
# Runs every libFuzzer target of fuzz/ for a bounded time and fails on any finding.
#
#   tools/run-fuzzers.sh BUILD_DIR SECONDS [TARGET...]
#
# BUILD_DIR is a fuzzing build (fuzz/meson.build); when it has not been configured yet it
# is set up here with clang, ASan, UBSan and coverage instrumentation of the library.
# Each target (all of them, or the TARGETs named: safetensors, config, ...) runs for
# SECONDS, one after the other, on a fresh copy of its seed corpus fuzz/corpus/TARGET/,
# with a 2 GB RSS limit and a 10 s limit per input.  A crash, a sanitizer report (ASan,
# UBSan, LeakSanitizer), a timeout or running out of memory is a finding: the input that
# caused it is kept in BUILD_DIR/fuzz-findings/TARGET/ with the fuzzer's log, and the
# script exits with status 1 after running the other targets.  To reproduce one:
#   BUILD_DIR/fuzz/fuzz-TARGET BUILD_DIR/fuzz-findings/TARGET/crash-...
set -u

if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
  exit 2
fi
src=$(cd "$(dirname "$0")/.." && pwd)
build=$1
seconds=$2
shift 2

if [ ! -f "$build/build.ninja" ]; then
  CC=${CC:-clang} meson setup "$build" "$src" -Dfuzzing=enabled -Dtests=false -Ddemo=false \
    -Dintrospection=disabled -Dmpi=disabled -Db_sanitize=address,undefined \
    -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link || exit 1
fi
# The targets and the plugins fuzz-config builds blocks from.
ninja -C "$build" || exit 1
# Absolute from here on: each target runs from its own work directory.
build=$(cd "$build" && pwd) || exit 1

if [ $# -eq 0 ]; then
  set -- $(cd "$src/fuzz/corpus" && ls)
fi

# UBSan only prints by default; a report must stop the run so that it counts.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

work=$(mktemp -d "${TMPDIR:-/tmp}/mact-fuzz-XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

failed=""
for target in "$@"; do
  fuzzer="$build/fuzz/fuzz-$target"
  if [ ! -x "$fuzzer" ] || [ ! -d "$src/fuzz/corpus/$target" ]; then
    echo "$target: no such fuzz target" >&2
    failed="$failed $target"
    continue
  fi
  mkdir -p "$work/$target/corpus" "$work/$target/artifacts"
  cp "$src/fuzz/corpus/$target"/* "$work/$target/corpus/"
  log="$work/$target/log"
  echo "fuzz-$target: ${seconds} s on $(ls "$work/$target/corpus" | wc -l) seeds"
  # Run from the work directory: anything a target leaves behind stays there.
  (cd "$work/$target" &&
   "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
     -print_final_stats=1 -artifact_prefix="$work/$target/artifacts/" corpus) > "$log" 2>&1
  status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
  cov=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 |
        sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  # libFuzzer also writes slow-unit-* for an input it timed above 10 s that -timeout did
  # not stop; a real hang is a timeout (status non-zero), so those alone come from the
  # clock (a VM that was paused or had its time stepped) and are only mentioned.
  artifacts=$(ls "$work/$target/artifacts" | grep -v '^slow-unit-')
  slow=$(ls "$work/$target/artifacts" | grep '^slow-unit-')
  if [ $status -ne 0 ] || [ -n "$artifacts" ]; then
    keep="$build/fuzz-findings/$target"
    mkdir -p "$keep"
    cp "$log" "$keep/log"
    [ -n "$artifacts" ] && cp "$work/$target/artifacts"/* "$keep/"
    echo "fuzz-$target: FINDING (exit status $status); input and log in $keep:"
    grep -E 'ERROR: |runtime error: |==[0-9]+==|Test unit written' "$log" | head -n 20
    failed="$failed $target"
  else
    echo "fuzz-$target: ok (${runs:-?} inputs, coverage ${cov:-?} edges, peak RSS ${rss:-?} MB)"
    if [ -n "$slow" ]; then
      mkdir -p "$build/fuzz-slow/$target"
      cp "$work/$target/artifacts"/slow-unit-* "$build/fuzz-slow/$target/"
      echo "fuzz-$target: note: an input was timed above 10 s without a timeout (clock" \
           "jump?); it is in $build/fuzz-slow/$target/ to time again"
    fi
  fi
done

if [ -n "$failed" ]; then
  echo "fuzzers with findings:$failed"
  exit 1
fi
echo "all fuzzers ran ${seconds} s each without findings"
