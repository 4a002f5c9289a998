#!/bin/sh
# Checks the examples as their users meet them: against an installed mact, found only
# through pkg-config, never through this source tree.
#
#   1. builds mact (release, no tests) in build-stage/build and installs it into
#      build-stage/prefix;
#   2. builds examples/plugin with PKG_CONFIG_PATH=build-stage/prefix/lib/pkgconfig and
#      nothing else, runs its own tests (the plugin against PyTorch's scores), and installs
#      the plugin into a plugin root of its own, build-stage/plugins;
#   3. writes a small video with examples/python/write_clip.py, then classifies it with the
#      example's config and weights, the backbone coming from MACT_PLUGIN_PATH, three ways:
#      the staged `mact infer`, examples/glib-app (built the same way as the plugin) and
#      examples/python/classify.py; each must exit 0 and print a top-1 "label: score" line,
#      and all three must agree on the label;
#   4. builds examples/glib-app again with mact as a meson subproject instead of installed.
#
# Everything lives under build-stage/ (ignored by git, like the other build-* trees);
# a second run reuses the mact build and takes a few seconds.  Prints one line per check
# and exits non-zero if any fails, after showing the failing command's output.
# Run from anywhere: tools/check-examples.sh
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STAGE=$ROOT/build-stage
PREFIX=$STAGE/prefix
PLUGINS=$STAGE/plugins
LOGS=$STAGE/logs
PYTHON=/usr/bin/python3   # Debian's, with python3-gi and numpy

EXAMPLE=$ROOT/examples/plugin
CONFIG=$EXAMPLE/configs/tsn_tinyconv.json
WEIGHTS=$EXAMPLE/data/tsn_tinyconv.safetensors
LABELS=$EXAMPLE/data/labels.txt
CLIP=$STAGE/clip.mp4

failures=0

say () {
  printf 'check-examples: %s\n' "$*"
}

# run NAME COMMAND...: runs COMMAND with its output in $LOGS/NAME.log; on failure shows the
# end of the log.  Returns COMMAND's status.
run () {
  name=$1
  shift
  rc=0
  "$@" >"$LOGS/$name.log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    return 0
  fi
  say "  '$*' exited with status $rc; last lines of $LOGS/$name.log:"
  tail -n 25 "$LOGS/$name.log" | sed 's/^/    /'
  return $rc
}

pass () {
  say "ok   $*"
}

fail () {
  say "FAIL $*"
  failures=$((failures + 1))
}

# A check the rest depends on: stop here when it fails.
fatal () {
  fail "$*"
  say "stopping: $failures check(s) failed"
  exit 1
}

# top_line NAME: the first line of $LOGS/NAME.log if it is a "label: score" line.
top_line () {
  line=$(sed -n 1p "$LOGS/$1.log")
  if printf '%s\n' "$line" | grep -Eq '^[A-Za-z0-9_ -]+: [0-9]+\.[0-9]{4}$'; then
    printf '%s\n' "$line"
  fi
}

mkdir -p "$STAGE" "$LOGS"

# ------------------------------------------------------------------ 1. mact, staged
say "building mact (release, no tests) in build-stage/build, installing into build-stage/prefix"
# libdir=lib: one known place for the .pc file, whatever the platform's multiarch default.
if [ -f "$STAGE/build/build.ninja" ]; then
  run mact-setup meson setup --reconfigure "$STAGE/build" "$ROOT" \
    -Dprefix="$PREFIX" -Dlibdir=lib -Dtests=false -Ddemo=false -Dmpi=disabled \
    -Ddocs=disabled --buildtype=release ||
    fatal "configure mact"
else
  run mact-setup meson setup "$STAGE/build" "$ROOT" \
    -Dprefix="$PREFIX" -Dlibdir=lib -Dtests=false -Ddemo=false -Dmpi=disabled \
    -Ddocs=disabled --buildtype=release ||
    fatal "configure mact"
fi
run mact-build ninja -C "$STAGE/build" || fatal "build mact"
# A fresh prefix, so that a file the install no longer writes cannot make a check pass.
rm -rf "$PREFIX"
run mact-install meson install -C "$STAGE/build" --no-rebuild || fatal "install mact"
pass "mact installed into build-stage/prefix"

# Only the staged prefix: no build tree, no uninstalled .pc, no source-tree headers.
PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
export PKG_CONFIG_PATH
unset PKG_CONFIG_LIBDIR MACT_PLUGIN_PATH MACT_PLUGIN_SYSTEM_PATH 2>/dev/null || true
# The user's own plugin directory must not take part.
XDG_DATA_HOME=$STAGE/xdg-data
export XDG_DATA_HOME

pluginsdir=$(pkg-config --variable=pluginsdir mact-1.0 2>"$LOGS/pkg-config.log")
if [ "$pluginsdir" = "$PREFIX/lib/mact-1.0/plugins" ] && [ -d "$pluginsdir/native" ]; then
  pass "pkg-config --variable=pluginsdir mact-1.0 is the staged plugin root"
else
  fail "pkg-config --variable=pluginsdir mact-1.0 gave '$pluginsdir', expected" \
       "$PREFIX/lib/mact-1.0/plugins (with native/)"
fi

# builds_against_stage NAME: no include path of the example's build points into the
# source tree or mact's build tree (only build-stage/prefix and the system).
builds_against_stage () {
  if grep -Eq -- "-I($ROOT/include|$ROOT/core|$STAGE/build)" \
       "$STAGE/$1/compile_commands.json"; then
    fail "$1 compiles with include paths into mact's source or build tree"
  else
    pass "$1 compiles against the staged headers only"
  fi
}

# ------------------------------------------------------------------ 2. the plugin example
say "building examples/plugin against the staged mact (pkg-config only)"
rm -rf "$STAGE/example-plugin" "$PLUGINS"
run plugin-setup meson setup "$STAGE/example-plugin" "$EXAMPLE" -Dwerror=true \
  -Dpluginsdir="$PLUGINS" || fatal "configure examples/plugin"
run plugin-build ninja -C "$STAGE/example-plugin" || fatal "build examples/plugin"
builds_against_stage example-plugin
if run plugin-test meson test -C "$STAGE/example-plugin" --print-errorlogs; then
  pass "examples/plugin: its own tests (registry, properties, scores within 1e-4 of PyTorch, errors)"
else
  fail "examples/plugin: its own tests"
fi
run plugin-install meson install -C "$STAGE/example-plugin" --no-rebuild ||
  fatal "install examples/plugin into build-stage/plugins"
if [ -f "$PLUGINS/native/libmact-native-tinyconv.so" ]; then
  pass "plugin installed as build-stage/plugins/native/libmact-native-tinyconv.so"
else
  fatal "plugin not found at build-stage/plugins/native/libmact-native-tinyconv.so"
fi

# The staged programs: the library from the prefix, the example plugin from its own root.
LD_LIBRARY_PATH=$PREFIX/lib
GI_TYPELIB_PATH=$PREFIX/lib/girepository-1.0
export LD_LIBRARY_PATH GI_TYPELIB_PATH
MACT=$PREFIX/bin/mact

if run mact-plugins env MACT_PLUGIN_PATH="$PLUGINS" "$MACT" plugins &&
   grep -Eq 'tinyconv: libmact-native-tinyconv\.so' "$LOGS/mact-plugins.log" &&
   grep -Eq 'backbone +TinyConvNet$' "$LOGS/mact-plugins.log"; then
  pass "mact plugins lists tinyconv and its TinyConvNet backbone"
else
  fail "mact plugins does not list tinyconv / TinyConvNet (see $LOGS/mact-plugins.log)"
fi

# ------------------------------------------------------------------ 3. running it
say "writing a synthetic clip with examples/python/write_clip.py"
if run write-clip "$PYTHON" "$ROOT/examples/python/write_clip.py" "$CLIP" && [ -s "$CLIP" ]; then
  pass "write_clip.py wrote build-stage/clip.mp4"
else
  fatal "write_clip.py did not write a clip"
fi

# The top-1 label of each program that ran, one a line.
: >"$LOGS/top1.txt"
# classified NAME WHAT: checks the log of a classification run that exited 0.
classified () {
  top=$(top_line "$1")
  if [ -n "$top" ]; then
    pass "$2: top-1 '$top'"
    printf '%s\n' "${top%%:*}" >>"$LOGS/top1.txt"
  else
    fail "$2: no 'label: score' first line (see $LOGS/$1.log)"
  fi
}

if run mact-infer env MACT_PLUGIN_PATH="$PLUGINS" \
     "$MACT" infer --labels "$LABELS" "$CONFIG" "$WEIGHTS" "$CLIP"; then
  classified mact-infer "mact infer with TinyConvNet from MACT_PLUGIN_PATH"
else
  fail "mact infer with TinyConvNet from MACT_PLUGIN_PATH"
fi

say "building examples/glib-app against the staged mact (pkg-config only)"
rm -rf "$STAGE/example-glib-app"
if run glib-app-setup meson setup "$STAGE/example-glib-app" "$ROOT/examples/glib-app" \
     -Dwerror=true &&
   run glib-app-build ninja -C "$STAGE/example-glib-app"; then
  builds_against_stage example-glib-app
  if run glib-app env MACT_PLUGIN_PATH="$PLUGINS" \
       "$STAGE/example-glib-app/mact-glib-example" --label-map "$LABELS" \
       "$CONFIG" "$CLIP" "$WEIGHTS"; then
    classified glib-app "mact-glib-example"
  else
    fail "mact-glib-example"
  fi
else
  fail "build examples/glib-app"
fi

if run classify-py env MACT_PLUGIN_PATH="$PLUGINS" \
     "$PYTHON" "$ROOT/examples/python/classify.py" --label-map "$LABELS" \
     "$CONFIG" "$CLIP" "$WEIGHTS"; then
  classified classify-py "examples/python/classify.py"
else
  fail "examples/python/classify.py"
fi

# The three run the same recognizer on the same clip through the same library.
ran=$(wc -l <"$LOGS/top1.txt")
distinct=$(sort -u "$LOGS/top1.txt" | wc -l)
if [ "$ran" -gt 1 ] && [ "$distinct" -eq 1 ]; then
  pass "the $ran programs that ran agree on the top-1 class"
else
  fail "the programs disagree on the top-1 class, or fewer than two ran:" \
       "$(tr '\n' ' ' <"$LOGS/top1.txt")"
fi

# ------------------------------------------------------------------ 4. as a subproject
# The same application with mact not installed but built along as a meson subproject
# (subprojects/mact links to this tree): dependency('mact-1.0') must resolve to the
# subproject's override, and the program must load the subproject's libmact (its
# RUNPATH; the staged prefix's LD_LIBRARY_PATH is left out).  Only the program and
# libmact are built, not the plugins.
say "building examples/glib-app with mact as a meson subproject"
SUB=$STAGE/subproject-app
rm -rf "$SUB" "$STAGE/subproject-build"
mkdir -p "$SUB/subprojects"
cp "$ROOT/examples/glib-app/meson.build" "$ROOT/examples/glib-app/main.c" "$SUB/"
ln -s "$ROOT" "$SUB/subprojects/mact"
if run subproject-setup env -u PKG_CONFIG_PATH meson setup "$STAGE/subproject-build" "$SUB" \
     --force-fallback-for=mact-1.0 --buildtype=release -Dwerror=true \
     -Dmact:tests=false -Dmact:demo=false -Dmact:introspection=disabled \
     -Dmact:docs=disabled -Dmact:mpi=disabled &&
   run subproject-build ninja -C "$STAGE/subproject-build" mact-glib-example &&
   run subproject-ldd env -u LD_LIBRARY_PATH ldd "$STAGE/subproject-build/mact-glib-example" &&
   grep -q "$STAGE/subproject-build/subprojects/mact/core/libmact-1.0.so" \
     "$LOGS/subproject-ldd.log" &&
   run subproject-help env -u LD_LIBRARY_PATH \
     "$STAGE/subproject-build/mact-glib-example" --help; then
  pass "examples/glib-app builds and runs with mact as a meson subproject"
else
  fail "examples/glib-app with mact as a meson subproject (see $LOGS/subproject-*.log)"
fi

if [ "$failures" -ne 0 ]; then
  say "$failures check(s) failed; logs in build-stage/logs"
  exit 1
fi
say "all checks passed"
