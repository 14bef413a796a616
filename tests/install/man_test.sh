#!/usr/bin/env bash
# The man page renders without a warning, and names every command and option the binary
# offers: it cannot fall behind `tributary --help`.
# Usage: man_test.sh TRIBUTARY_EXE MAN_PAGE
set -euo pipefail
exe=$1
page=$2
warnings=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$page" 2>&1)
[ -z "$warnings" ] || { echo "groff warnings in $page:"; echo "$warnings"; exit 1; }
text=$(sed 's/\\-/-/g' "$page")
missing=0
names_in() {  # the subcommands, then the long options, of a --help text
  awk '/^Subcommands:/{s=1; next} /^[A-Z][a-z]*:/{s=0} s && /^  [a-z]/{print $1}' <<<"$1"
  grep -o -- '--[a-z][a-z-]*' <<<"$1" | sort -u
}
check_help() {  # $@: the command's words
  local help
  help=$("$exe" "$@" --help)
  for name in $(names_in "$help"); do
    grep -q -- "$name" <<<"$text" || { echo "the man page does not mention '$name' (tributary $* --help)"; missing=1; }
  done
}
check_help
for cmd in run check fetch plugins test-case config "config sample"; do
  # shellcheck disable=SC2086
  check_help $cmd
done
exit $missing
