#!/bin/sh
# Installs the Debian 12 packages mact needs. Idempotent: only missing packages
# are fetched. Run as root (or it uses sudo).
#
#   tools/install-deps.sh              build + test dependencies
#   tools/install-deps.sh --reference  also Debian's PyTorch, the numerical reference
#                                      used to regenerate test fixtures and to benchmark
set -eu

PACKAGES="meson ninja-build pkg-config gcc g++ clang libclang-rt-14-dev binutils
libglib2.0-dev libjson-glib-dev libopenblas-dev
libcmocka-dev valgrind
libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
libopenmpi-dev openmpi-bin
gobject-introspection libgirepository1.0-dev gir1.2-glib-2.0 gir1.2-json-1.0
python3 python3-gi python3-numpy
gi-docgen gjs"

if [ "${1:-}" = "--reference" ]; then
  PACKAGES="$PACKAGES python3-torch python3-torchvision"
fi

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

missing=
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
  echo "mact: installing$missing"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi
