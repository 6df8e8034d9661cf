#!/usr/bin/env bash
# Install Debian's Chromium for the browser end-to-end test (tests/e2e/test_ui_browser.py).
# Idempotent: does nothing when /usr/bin/chromium exists. `playwright install` is not used: it
# downloads its own browser build from a CDN, which CI machines here cannot reach.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "Installing chromium for the browser test..."
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
test -x /usr/bin/chromium
