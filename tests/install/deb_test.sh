#!/usr/bin/env bash
# The .deb, unpacked into a scratch root (dpkg -x), works without the source tree: the binary
# finds its plugins and its config from where it is, and the unit can reload.
# Usage: deb_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$build" && cpack -G DEB -B "$tmp/pkg" > "$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; exit 1; }
deb=$(ls "$tmp"/pkg/tributary_*.deb)
dpkg-deb --info "$deb" > "$tmp/info.txt"  # to a file: `| grep -q` would end it early, and pipefail would count that
grep -q "Depends:.*libcurl" "$tmp/info.txt" || { echo "no Depends on libcurl in $deb"; cat "$tmp/info.txt"; exit 1; }
dpkg -x "$deb" "$tmp/root"
exe="$tmp/root/usr/bin/tributary"
cd /  # nowhere near the source tree
"$exe" plugins > "$tmp/plugins.txt"
for p in binance coingecko cmc taapi finnhub redis_pubsub redis_streams; do
  grep -q "^$p " "$tmp/plugins.txt" || { echo "plugin $p not listed:"; cat "$tmp/plugins.txt"; exit 1; }
done
grep -q "path: $tmp/root/usr/lib/tributary/plugins/libbinance.so" "$tmp/plugins.txt" || { echo "plugins not from the install:"; cat "$tmp/plugins.txt"; exit 1; }
# The config is /etc/tributary/tributary.toml, a conffile (an upgrade keeps the operator's edits).
conf="$tmp/root/etc/tributary/tributary.toml"
test -f "$conf" || { echo "no $conf"; dpkg-deb -c "$deb"; exit 1; }
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles > "$tmp/conffiles"
grep -qx "/etc/tributary/tributary.toml" "$tmp/conffiles" || { echo "not a conffile:"; cat "$tmp/conffiles"; exit 1; }
for s in postinst prerm postrm; do dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./$s | sh -n; done
"$exe" check -c "$conf" > "$tmp/check.txt" 2>&1 || { cat "$tmp/check.txt"; exit 1; }
grep -q "^ok: $conf" "$tmp/check.txt" || { cat "$tmp/check.txt"; exit 1; }
unit="$tmp/root/usr/lib/systemd/system/tributary.service"
grep -q '^ExecReload=/bin/kill -HUP $MAINPID' "$unit" || { echo "no reload in $unit"; exit 1; }
grep -q '^ExecStart=/usr/bin/tributary run$' "$unit" || { echo "ExecStart is not the installed binary:"; cat "$unit"; exit 1; }
# systemd accepts the unit (pointed at the unpacked binary, since nothing is in /usr/bin here).
sed "s#/usr/bin/tributary#$exe#" "$unit" > "$tmp/tributary.service"
systemd-analyze verify --man=no "$tmp/tributary.service" > "$tmp/verify.txt" 2>&1 || { cat "$tmp/verify.txt"; exit 1; }
[ ! -s "$tmp/verify.txt" ] || { echo "systemd-analyze verify:"; cat "$tmp/verify.txt"; exit 1; }
test -f "$tmp/root/usr/share/tributary/sdk/examples/fear_greed/CMakeLists.txt"
test -f "$tmp/root/usr/include/tributary/sdk.hpp"
test -f "$tmp/root/usr/share/doc/tributary/docs/configuration.md"
zcat "$tmp/root/usr/share/man/man1/tributary.1.gz" > "$tmp/man.txt"
grep -q '^\.TH TRIBUTARY 1' "$tmp/man.txt" || { echo "no man page"; exit 1; }
echo "ok: $(basename "$deb")"
