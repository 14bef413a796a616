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
# The plugin may export nothing but its entry symbol: no weak std:: instances either.
exported=$(nm -D --defined-only "$tmp/build/libfear_greed.so" | awk '{print $3}')
[ "$exported" = "tributary_plugin_entry" ] || { echo "unexpected exports: $exported"; exit 1; }
"$exe" plugins --plugin-dir "$tmp/build" | tee "$tmp/plugins.txt"
grep -q "^fear_greed 1.0.0 (ABI 1.2)" "$tmp/plugins.txt"
"$exe" test-case --plugin-dir "$tmp/build" "$src_dir"/sdk/examples/fear_greed/tests/cases/*/

# Again with clang and libc++ when the machine has them (scripts/install-deps.sh installs both):
# the SDK's headers must not lean on libstdc++ (e.g. floating-point from_chars).
if command -v clang++ > /dev/null && echo 'int main(){}' | clang++ -stdlib=libc++ -x c++ - -o "$tmp/probe" 2> /dev/null; then
  echo "building the example plugin with clang++ and libc++"
  cmake -S "$src_dir/sdk/examples/fear_greed" -B "$tmp/build-libcxx" -DCMAKE_PREFIX_PATH="$tmp/sdk" \
    -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS=-stdlib=libc++ -DCMAKE_MODULE_LINKER_FLAGS=-stdlib=libc++ \
    -DCMAKE_BUILD_TYPE=Release > "$tmp/configure-libcxx.log" || { cat "$tmp/configure-libcxx.log"; exit 1; }
  cmake --build "$tmp/build-libcxx" > "$tmp/build-libcxx.log" 2>&1 || { cat "$tmp/build-libcxx.log"; exit 1; }
  # To a file: `ldd | grep -q` can end ldd early with SIGPIPE, which pipefail counts as a failure.
  ldd "$tmp/build-libcxx/libfear_greed.so" > "$tmp/ldd.txt"
  grep -q 'libc++' "$tmp/ldd.txt" || { echo "not linked with libc++:"; cat "$tmp/ldd.txt"; exit 1; }
  exported=$(nm -D --defined-only "$tmp/build-libcxx/libfear_greed.so" | awk '{print $3}')
  [ "$exported" = "tributary_plugin_entry" ] || { echo "unexpected exports with libc++: $exported"; exit 1; }
  "$exe" test-case --plugin-dir "$tmp/build-libcxx" "$src_dir"/sdk/examples/fear_greed/tests/cases/*/
else
  echo "WARNING: clang++ with libc++ not available; the libc++ build of the SDK was not tested"
fi
