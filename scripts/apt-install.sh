#!/usr/bin/env bash
# Shared by the install-*.sh scripts (sourced, not run): root or password-less sudo, then a quiet,
# non-interactive `apt-get update && apt-get install` of Debian packages that prints apt's last
# lines and a sentence on failure. The sourcing script defines `say` first.

# need_apt WHAT HINT: set SUDO, or exit 1 saying WHAT cannot be installed (HINT: how to do it by hand).
need_apt() {
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        say "$1 is not installed and installing it needs root (or password-less sudo)."
        exit 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        say "$1 is not installed and this machine has no apt-get to install it with; $2."
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
}

# apt_install PACKAGE...: update the package lists and install PACKAGE... without recommends.
apt_install() {
    local log
    log=$(mktemp)
    if ! "${SUDO[@]}" apt-get update -qq >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        rm -f "$log"
        say "apt-get update failed, so $* could not be installed (output above)."
        exit 1
    fi
    if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "$@" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        rm -f "$log"
        say "apt-get install $* failed (output above)."
        exit 1
    fi
    rm -f "$log"
}
