#!/bin/sh
# Install Debian's chromium (driven by Playwright in tests/browser) and CJK fonts for readable screenshots.
# Idempotent: does nothing when both are present.  Needs root (CI runs `make test` as root) and the Debian mirror.
set -eu
CHROMIUM="${QSNEWS_CHROMIUM:-/usr/bin/chromium}"
have_fonts() { [ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1; }
if [ -x "$CHROMIUM" ] && have_fonts; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    if [ -x "$CHROMIUM" ]; then
        echo "tests/browser: fonts-noto-cjk missing, screenshots will show boxes for Chinese" >&2
        exit 0
    fi
    echo "tests/browser: $CHROMIUM or fonts-noto-cjk missing; run as root: apt-get install -y chromium fonts-noto-cjk" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium fonts-noto-cjk
