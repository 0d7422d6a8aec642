#!/usr/bin/env bash
# Installs what MedVox needs on a Debian machine (system -dev packages, the Python test oracles)
# and builds the release binary at .build/release/medvox.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
packages=$(grep -v '^#' Tools/apt-packages.txt | tr '\n' ' ')
missing=""
for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
python3 -m pip install -q -r Tools/requirements-dev.txt
# CI sets MEDVOX_SKIP_BUILD=1: its test command builds everything (with -enable-testing) anyway.
if [ "${MEDVOX_SKIP_BUILD:-0}" != 1 ]; then
    swift build -c release --product medvox 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
    test -x .build/release/medvox
fi
