#!/usr/bin/env bash
# Installs what MedVox needs on a Debian machine and builds the release binary at .build/release/medvox.
#
# - The Debian packages in Tools/apt-packages.txt: the C -dev libraries the build links, and the
#   tools the tests use (dcmtk, GDCM, dcm2niix, dicom3tools, Slurm, strace, python3-venv).
# - The Python test oracles of Tools/requirements-dev.txt, in a virtual environment at .venv made
#   with Debian's own /usr/bin/python3 (never pip into the system interpreter, which Debian marks
#   as externally managed, PEP 668). Tests find it through MEDVOX_PYTHON, which defaults to
#   .venv/bin/python3. Building and running medvox (segment, classify, ...) needs no Python.
#
# Runs with only the system's directories on PATH; it needs the swift toolchain only to build
# (MEDVOX_SKIP_BUILD=1 skips the build, as CI does: its test command builds everything anyway).
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

venv=.venv
# A venv left half-made (no pip) or made by an interpreter that is gone is made again.
if ! "$venv/bin/python3" -m pip --version >/dev/null 2>&1; then
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
fi
"$venv/bin/python3" -m pip install -q --disable-pip-version-check -r Tools/requirements-dev.txt

if [ "${MEDVOX_SKIP_BUILD:-0}" != 1 ]; then
    command -v swift >/dev/null || { echo "Tools/setup.sh: no swift on PATH; install the Swift toolchain (swift.org/install) and run again" >&2; exit 1; }
    swift build -c release --product medvox 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
    test -x .build/release/medvox
fi
