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

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    say "Alertmanager is not installed and installing it needs root (or password-less sudo)."
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    say "Alertmanager is not installed and this machine has no apt-get to install prometheus-alertmanager with; install it and put 'alertmanager' on PATH."
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

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

LOG=$(mktemp)
if ! "${SUDO[@]}" apt-get update -qq >"$LOG" 2>&1; then
    tail -n 20 "$LOG" >&2
    rm -f "$LOG"
    say "apt-get update failed, so prometheus-alertmanager could not be installed (output above)."
    exit 1
fi
if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    prometheus-alertmanager >"$LOG" 2>&1; then
    tail -n 20 "$LOG" >&2
    rm -f "$LOG"
    say "apt-get install prometheus-alertmanager failed (output above)."
    exit 1
fi
rm -f "$LOG"

# Debian's package may have enabled or started its service despite the policy (e.g. under systemd).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    "${SUDO[@]}" systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
fi

if ! found_binary; then
    say "prometheus-alertmanager was installed but neither 'prometheus-alertmanager' nor 'alertmanager' is on PATH."
    exit 1
fi
