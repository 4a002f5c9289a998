#!/bin/sh
# The main job: installs what is missing, builds mact, and runs it.  Until the `mact`
# program lands this is the engine demonstration (tools/mact-demo.c).
set -eu
cd "$(dirname "$0")/.."
tools/install-deps.sh
[ -d build ] || meson setup build --buildtype=release
ninja -C build
exec build/tools/mact-demo "$@"
