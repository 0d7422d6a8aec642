#!/usr/bin/env bash
# Opens MedVox HTML pages (case reports, batch index) in headless Chromium, fails on any console
# message of level warning or error, and saves a screenshot of each page for a person to look at.
#   bash Tools/reports/check_in_chromium.sh OUT_DIR page.html [page.html ...]
# Needs Debian's chromium (apt-get install chromium).
set -euo pipefail
out=${1:?usage: check_in_chromium.sh OUT_DIR PAGE...}; shift
mkdir -p "$out"
status=0
for page in "$@"; do
    name=$(basename "$(dirname "$page")")_$(basename "$page" .html)
    log="$out/$name.console.log"
    timeout 120 chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
        --enable-logging=stderr --v=0 --window-size=1200,1600 \
        --screenshot="$out/$name.png" "file://$(readlink -f "$page")" 2> "$log" >/dev/null || true
    if grep -E '(WARNING|ERROR|FATAL):CONSOLE|Uncaught|Failed to load|net::ERR' "$log"; then
        echo "console messages in $page (see $log)"; status=1
    else
        echo "ok: $page -> $out/$name.png"
    fi
done
exit $status
