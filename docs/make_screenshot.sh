#!/usr/bin/env bash
# Renders the bundled sample's HTML report and screenshots it with headless
# Chromium (Debian's chromium package): docs/report.html, docs/report.png.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q -- analyze fixtures/sample/incident --html docs/report.html > /dev/null
chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
  --hide-scrollbars --window-size=1280,3400 --screenshot="$PWD/docs/report.png" "file://$PWD/docs/report.html" 2>/dev/null
