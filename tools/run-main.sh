#!/bin/sh
# The main job: installs what is missing, builds mact, and trains a 3D recognizer from
# scratch on the built-in synthetic action dataset, validating each epoch (a few minutes
# on 2 cores).  Extra arguments go to `mact train` (e.g. --work-dir DIR, --threads N).
set -eu
cd "$(dirname "$0")/.."
tools/install-deps.sh
[ -d build ] || meson setup build --buildtype=release
ninja -C build
exec build/tools/mact train configs/synthetic/r3d_r18_8x1x1_synthetic.json --validate "$@"
