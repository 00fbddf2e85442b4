#!/usr/bin/env bash
# Install the system pieces the media tests (and device support) need, from Debian's
# packages, idempotently:
#
#   sudo scripts/install-media-deps.sh        # or as root in CI
#
#   libportaudio2       PortAudio, which the `sounddevice` wheel loads (Debian 12: 19.6,
#                       ALSA/JACK/OSS host APIs; no native PulseAudio host API)
#   libasound2-plugins  ALSA's `pulse` PCM, the bridge PortAudio reaches PulseAudio through
#   pulseaudio          the sound server the tests start privately (null sinks, monitors)
#   pulseaudio-utils    pactl: lists sinks/sources, loads null sinks, sets defaults
#   coturn              the STUN/TURN server the ICE probe tests start on free ports
#
# - Installs only what is missing; runs `apt-get update` only then.
# - Non-interactive (DEBIAN_FRONTEND=noninteractive, keeps existing conffiles).
# - coturn's package would start a system `coturn` on 3478: while we install, a
#   temporary policy-rc.d (only if the machine has none) keeps maintainer scripts from
#   starting services, and a coturn this script installed is disabled so that it does
#   not start at boot either. A coturn or PulseAudio that was already there is left
#   alone: we never stop or reconfigure anything we did not install; the suite runs
#   its own servers on free loopback ports and private sockets.
set -euo pipefail

PACKAGES=(libportaudio2 libasound2-plugins pulseaudio pulseaudio-utils coturn)

log() { printf 'install-media-deps: %s\n' "$*" >&2; }

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    log "already installed: ${PACKAGES[*]}"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    log "missing packages: ${missing[*]}; run this script as root (or: sudo apt-get install ${missing[*]})"
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

POLICY=/usr/sbin/policy-rc.d
our_policy=0
cleanup() {
    if [ "$our_policy" -eq 1 ]; then
        rm -f "$POLICY"
    fi
}
trap cleanup EXIT
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# temporary, from install-media-deps.sh: do not start services while installing\nexit 101\n' >"$POLICY"
    chmod 0755 "$POLICY"
    our_policy=1
fi

coturn_was_installed=0
is_installed coturn && coturn_was_installed=1

log "installing: ${missing[*]}"
apt-get update -q
apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"

cleanup
our_policy=0

for pkg in "${PACKAGES[@]}"; do
    if ! is_installed "$pkg"; then
        log "package $pkg did not install"
        exit 1
    fi
done

# The coturn we just installed must not come up on 3478 at the next boot. Only the
# enablement links are removed (nothing is stopped); a coturn that was there before
# this run is the machine's and is left as it was.
if [ "$coturn_was_installed" -eq 0 ]; then
    if command -v systemctl >/dev/null 2>&1; then
        systemctl disable coturn.service >/dev/null 2>&1 || true
    fi
    if [ -x /etc/init.d/coturn ] && command -v update-rc.d >/dev/null 2>&1; then
        update-rc.d coturn disable >/dev/null 2>&1 || true
    fi
    log "disabled the system coturn service (the suite starts its own on free ports)"
fi

log "installed: ${PACKAGES[*]}"
if command -v pgrep >/dev/null 2>&1 && pgrep -x turnserver >/dev/null 2>&1; then
    log "note: a turnserver not started by the suite is running (pids: $(pgrep -x turnserver | tr '\n' ' ')); left alone"
fi
exit 0
