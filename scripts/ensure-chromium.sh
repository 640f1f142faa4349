#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed: the UI tests open Dagster's pages in it, headless
# (tests/e2e/chromium.py). Idempotent: when `chromium` is on PATH it changes nothing. Otherwise
# it installs Debian's `chromium` package without its recommended extras.
# `make test` runs it first, so CI (root, clean machine) and newcomers need no extra step.
set -euo pipefail

if command -v chromium >/dev/null; then
    echo "ensure-chromium: Chromium found at $(command -v chromium)"
    exit 0
fi

source "$(dirname "$0")/apt-install.sh"
apt_install ensure-chromium chromium || {
    echo "ensure-chromium: no chromium on PATH and no apt-get: install Chromium so that" \
        "\`chromium\` is on PATH" >&2
    exit 1
}

command -v chromium >/dev/null || {
    echo "ensure-chromium: installed chromium but found no \`chromium\` on PATH" >&2
    exit 1
}
echo "ensure-chromium: installed Debian's chromium ($(command -v chromium))"
