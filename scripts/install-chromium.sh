#!/usr/bin/env bash
# Install Debian's Chromium (and a font, so pages render text) for the browser test, unless a
# `chromium` binary is already at CHROMIUM_BIN, /usr/bin/chromium or on PATH.
#
# Idempotent, non-interactive and quiet. Playwright drives this system browser; no browser build
# is ever downloaded. Needs root, or sudo without a password. Exits non-zero with a sentence on
# failure.
set -euo pipefail

say() { printf 'install-chromium: %s\n' "$*" >&2; }

found_binary() {
    if [ -n "${CHROMIUM_BIN:-}" ] && [ -x "$CHROMIUM_BIN" ]; then
        return 0
    fi
    [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1
}

if found_binary; then
    exit 0
fi

# shellcheck source=scripts/apt-install.sh
source "$(dirname "$0")/apt-install.sh"
need_apt Chromium "install it and set CHROMIUM_BIN to its path"
apt_install chromium fonts-dejavu-core

if ! found_binary; then
    say "chromium was installed but there is no /usr/bin/chromium nor 'chromium' on PATH."
    exit 1
fi
