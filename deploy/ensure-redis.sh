#!/bin/sh
# Make sure redis-server is on PATH: the scale-out tests start their own on loopback.
# Idempotent: does nothing when it is already installed; otherwise installs the Debian package
# (needs root, or sudo without a password, and the Debian mirror).
set -eu
if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo -n"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends redis-server >/dev/null
command -v redis-server >/dev/null
