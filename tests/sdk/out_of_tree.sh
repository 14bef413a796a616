#!/usr/bin/env bash
# Builds sdk/examples/fear_greed out of tree against the *installed* SDK package only, with
# clang++ when the machine has it (another compiler than the host's), then loads it through
# the real host: `tributary plugins` and its golden cases.
set -euo pipefail
build_dir=$1 src_dir=$2 exe=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build_dir/sdk" --prefix "$tmp/sdk" > /dev/null
cxx=$(command -v clang++ || command -v g++)
echo "building the example plugin with $cxx"
cmake -S "$src_dir/sdk/examples/fear_greed" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/sdk" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release > "$tmp/configure.log" || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/build" > "$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
# The plugin may export nothing but its entry symbol.
exported=$(nm -D --defined-only "$tmp/build/libfear_greed.so" | awk '$2 ~ /[TDB]/ {print $3}' | grep -v '^_' || true)
[ "$exported" = "tributary_plugin_entry" ] || { echo "unexpected exports: $exported"; exit 1; }
"$exe" plugins --plugin-dir "$tmp/build" | tee "$tmp/plugins.txt"
grep -q "^fear_greed 1.0.0 (ABI 1.1)" "$tmp/plugins.txt"
"$exe" test-case --plugin-dir "$tmp/build" "$src_dir"/sdk/examples/fear_greed/tests/cases/*/
