#!/usr/bin/env bash
# Installs the Debian 12 packages Tributary needs to build and test, only those missing.
set -euo pipefail
pkgs=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev nlohmann-json3-dev libcurl4-openssl-dev libssl-dev zlib1g-dev
  libtomlplusplus-dev libsimdjson-dev libcli11-dev libspdlog-dev libfmt-dev libhiredis-dev libjwt-dev librdkafka-dev liburing-dev kcat
  libgtest-dev libgmock-dev libbenchmark-dev redis-server redis-tools python3 python3-websockets
  nodejs chromium prometheus clang libc++-dev libc++abi-dev groff-base gzip systemd
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
