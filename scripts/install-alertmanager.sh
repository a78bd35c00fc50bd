#!/usr/bin/env bash
# Install Prometheus Alertmanager from Debian's `prometheus-alertmanager` package, for the
# integration tests, unless an `alertmanager` or `prometheus-alertmanager` binary is already on PATH.
#
# Idempotent and quiet; never starts the system service (the tests start their own instance on a
# loopback port). Needs root, or sudo without a password. Exits non-zero with a sentence on failure.
set -euo pipefail

say() { printf 'install-alertmanager: %s\n' "$*" >&2; }

found_binary() {
    command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1
}

if found_binary; then
    exit 0
fi

# shellcheck source=scripts/apt-install.sh
source "$(dirname "$0")/apt-install.sh"
need_apt Alertmanager "install prometheus-alertmanager and put 'alertmanager' on PATH"

# policy-rc.d exit code 101 tells invoke-rc.d not to start services while the package installs;
# it is removed again whatever happens.
POLICY=/usr/sbin/policy-rc.d
ADDED_POLICY=0
cleanup() {
    if [ "$ADDED_POLICY" -eq 1 ]; then
        "${SUDO[@]}" rm -f "$POLICY"
    fi
}
trap cleanup EXIT
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 755 "$POLICY"
    ADDED_POLICY=1
fi

apt_install prometheus-alertmanager

# Debian's package may have enabled or started its service despite the policy (e.g. under systemd).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    "${SUDO[@]}" systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
fi

if ! found_binary; then
    say "prometheus-alertmanager was installed but neither 'prometheus-alertmanager' nor 'alertmanager' is on PATH."
    exit 1
fi
