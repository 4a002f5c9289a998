#!/bin/sh
# The main job: installs what is missing, builds mact, and runs `mact demo`: it trains a
# small 3D recognizer from scratch on the built-in synthetic action dataset (a few minutes
# on 2 cores), writes one clip per action as a video file and classifies the files back.
# Extra arguments go to `mact demo` (e.g. --work-dir DIR, --threads N, --epochs 1).
set -eu
cd "$(dirname "$0")/.."
tools/install-deps.sh
[ -d build ] || meson setup build --buildtype=release
ninja -C build
# Run from the build tree, not installed: the plugins are found through the search path
# (after `meson install` they are found in the installed plugin directory instead).
MACT_PLUGIN_PATH="$(pwd)/build/plugins${MACT_PLUGIN_PATH:+:$MACT_PLUGIN_PATH}"
export MACT_PLUGIN_PATH
exec build/tools/mact demo "$@"
