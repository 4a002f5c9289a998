#!/bin/sh
# The test command: installs what is missing, builds with warnings as errors (gcc, and a
# compile-only check with clang), runs the unit suite, then the same suite under valgrind,
# then under AddressSanitizer + UndefinedBehaviorSanitizer (a third build), the fuzzers
# for a minute each (tools/run-fuzzers.sh, a clang build), the soak suite,
# then the mpi suite (two-rank MPI jobs), then installs Debian's PyTorch and runs the parity
# suite (every model at full size against live PyTorch, tests/parity/), then the training
# acceptance suite (the shipped synthetic configs trained from scratch, tests/acceptance/),
# then the examples against an installed mact (tools/check-examples.sh).  The API
# reference is built with gi-docgen (-Ddocs=enabled), its warnings fatal.
# Prints a closing "N passed, N failed" line counting the cmocka cases of all runs.
set -u
cd "$(dirname "$0")/.."

tools/install-deps.sh || exit 1

status=0
rm -rf build-ci build-ci-clang build-ci-asan build-ci-fuzz

meson setup build-ci -Dwerror=true --buildtype=debugoptimized -Dmpi=enabled -Ddocs=enabled \
  || exit 1
ninja -C build-ci || exit 1

# clang also checks that libmact builds without MPI.
CC=clang meson setup build-ci-clang -Dwerror=true -Dtests=true -Dmpi=disabled || exit 1
ninja -C build-ci-clang || exit 1

meson test -C build-ci --suite unit --print-errorlogs --num-processes 2 || status=1
meson test -C build-ci --suite unit --setup valgrind --print-errorlogs --num-processes 2 || status=1
# The unit suite once more built with AddressSanitizer and UndefinedBehaviorSanitizer:
# any report is fatal (halt_on_error, abort_on_error).  Leaks are valgrind's job above
# (LeakSanitizer would report GLib's and Python's deliberate one-time allocations); tests
# that check refusals of huge allocations need the allocator to return NULL as libc does.
# The Python and gjs binding tests run interpreters that are not instrumented, so the
# sanitizer runtimes are preloaded into them.
meson setup build-ci-asan -Dwerror=true --buildtype=debugoptimized -Dmpi=disabled \
  -Db_sanitize=address,undefined -Db_lundef=false || exit 1
ninja -C build-ci-asan || exit 1
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
meson test -C build-ci-asan --suite unit --no-suite gi --logbase testlog-asan \
  --print-errorlogs --num-processes 2 --timeout-multiplier 3 || status=1
sanitizer_runtimes="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
LD_PRELOAD="$sanitizer_runtimes" meson test -C build-ci-asan --suite gi \
  --logbase testlog-asan-gi --print-errorlogs || status=1
unset ASAN_OPTIONS UBSAN_OPTIONS
# Fuzzing: each libFuzzer target of fuzz/ (clang, ASan + UBSan) for a minute from its
# seed corpus; any crash, sanitizer report, timeout or memory blow-up fails the run.
tools/run-fuzzers.sh build-ci-fuzz 60 || status=1
# Load and soak: 8 threads x 1000 inferences on shared recognizers, 10,000 recognizer
# create/destroy cycles; results equal to serial, RSS and heap flat (tests/test-soak.c).
meson test -C build-ci --suite soak --logbase soak --print-errorlogs || status=1
# Distributed training: two MPI ranks per job, one job at a time (see tests/test-mpi*.c).
meson test -C build-ci --suite mpi --logbase testlog-mpi --print-errorlogs || status=1
# Full-size parity against live PyTorch: needs python3-torch and python3-torchvision at
# test time (without them the suite fails with the generator's message).
tools/install-deps.sh --reference || status=1
meson test -C build-ci --suite parity --logbase parity --print-errorlogs || status=1
# The training acceptance: each shipped synthetic config trains from scratch to >= 95%
# val top-1 within 5 minutes (tests/acceptance/).
meson test -C build-ci --suite acceptance --logbase acceptance --print-errorlogs || status=1
# The out-of-tree plugin example, the GLib and Python example programs, built and run
# against mact installed into a staging prefix (found through pkg-config only).
tools/check-examples.sh || status=1

passed=0
failed=0
for log in build-ci/meson-logs/testlog.txt build-ci/meson-logs/testlog-valgrind.txt \
           build-ci-asan/meson-logs/testlog-asan.txt \
           build-ci-asan/meson-logs/testlog-asan-gi.txt \
           build-ci/meson-logs/testlog-mpi.txt build-ci/meson-logs/soak.txt build-ci/meson-logs/parity.txt \
           build-ci/meson-logs/acceptance.txt; do
  [ -f "$log" ] || continue
  p=$(grep -cE '^ok [0-9]+' "$log")
  f=$(grep -cE '^not ok [0-9]+' "$log")
  passed=$((passed + p))
  failed=$((failed + f))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1   # a test binary crashed or timed out before reporting its cases
fi
echo "mact: $passed passed, $failed failed"
exit $status
