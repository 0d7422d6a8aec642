#!/usr/bin/env bash
# Opens MedVox HTML pages (case reports, batch index) in headless Chromium and fails when a page
# logs anything to the console (the pages have no scripts: any message is a warning or an error,
# such as a resource that failed to load) or makes a network request of its own (the pages are
# self-contained; data: URIs never reach the network). For each page it leaves, in OUT_DIR:
#   NAME.png          a screenshot (1200 × 1600 window)
#   NAME.pdf          the print layout (--print-to-pdf, no header or footer)
#   NAME.console.log  Chromium's log of both runs
#   NAME.netlog.json  the network log of both runs (--log-net-log)
# where NAME is the page's folder name, '_', and its file name without .html.
#   bash Tools/reports/check_in_chromium.sh OUT_DIR page.html [page.html ...]
# Needs Debian's chromium and python3 (Tools/setup.sh installs both). Requests the browser makes
# for itself (update checks and the like, with no page as initiator) are not the page's; all
# host names resolve to nothing, so no request leaves the machine.
# Tests/medvoxCLITests/ReportBrowserCLITests.swift runs this script in the test suite.
set -euo pipefail
out=${1:?usage: check_in_chromium.sh OUT_DIR PAGE...}; shift
[ $# -gt 0 ] || { echo "usage: check_in_chromium.sh OUT_DIR PAGE..." >&2; exit 2; }
command -v chromium >/dev/null || { echo "chromium is not installed: run Tools/setup.sh" >&2; exit 1; }
mkdir -p "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
status=0
for page in "$@"; do
    [ -f "$page" ] || { echo "$page: no such file"; status=1; continue; }
    name=$(basename "$(dirname "$(readlink -f "$page")")")_$(basename "$page" .html)
    log="$out/$name.console.log"
    : > "$log"
    nets=()
    for mode in screenshot print-to-pdf; do
        case $mode in
            screenshot) target=(--screenshot="$out/$name.png") ;;
            print-to-pdf) target=(--print-to-pdf="$out/$name.pdf" --no-pdf-header-footer) ;;
        esac
        net="$profile/$name.$mode.netlog.json"
        nets+=("$net")
        rm -f "${target[0]#*=}"
        timeout 120 chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
            --disable-background-networking --disable-component-update --disable-sync --disable-default-apps \
            --host-resolver-rules='MAP * ~NOTFOUND' --user-data-dir="$profile/user-data" \
            --enable-logging=stderr --v=0 --log-net-log="$net" --window-size=1200,1600 \
            "${target[@]}" "file://$(readlink -f "$page")" 2>> "$log" >/dev/null || true
        if [ ! -s "${target[0]#*=}" ]; then
            echo "$page: chromium wrote no ${target[0]#*=} (see $log)"; status=1
        fi
    done
    # Merged network log of both runs, for a person to inspect.
    python3 -c 'import json,sys; print(json.dumps([json.load(open(f)) for f in sys.argv[1:]]))' "${nets[@]}" \
        > "$out/$name.netlog.json" 2>/dev/null || true
    problems=0
    if grep ':CONSOLE' "$log"; then
        echo "$page: console messages (see $log)"; problems=1
    fi
    if ! python3 - "${nets[@]}" <<'EOF'
import json, sys
bad = []
for path in sys.argv[1:]:
    try:
        log = json.load(open(path))
    except (OSError, ValueError) as e:
        print(f"unreadable network log {path}: {e}")
        sys.exit(1)
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    for e in log["events"]:
        p = e.get("params") or {}
        if e["type"] == start and "url" in p and p.get("initiator") != "not an origin" and not p["url"].startswith("data:"):
            bad.append(p["url"])
for u in sorted(set(bad)):
    print(f"network request: {u}")
sys.exit(1 if bad else 0)
EOF
    then
        echo "$page: network requests (see $out/$name.netlog.json)"; problems=1
    fi
    if [ $problems = 0 ]; then
        echo "ok: $page -> $out/$name.png, $out/$name.pdf"
    else
        status=1
    fi
done
exit $status
