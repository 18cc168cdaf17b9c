#!/usr/bin/env bash
# Installs the Debian packages trelbo builds with, and any named as arguments (the test script's
# extra compiler), when they are missing.
set -euo pipefail
pkgs=(build-essential cmake libcmocka-dev libopenblas-dev libopenblas-openmp-dev python3 "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "installing: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi
