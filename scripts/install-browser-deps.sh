#!/usr/bin/env bash
# Install what the browser interop tests (tests/interop) need, idempotently:
#
#   sudo scripts/install-browser-deps.sh        # or as root in CI (only apt needs root)
#
#   chromium           Debian's Chromium (/usr/bin/chromium), run headless by the tests;
#                      never a browser download (no `npx playwright install`)
#   node_modules       `npm ci` in tests/interop/web from the committed package-lock.json
#                      (exact versions, install scripts not run): jssip, playwright-core
#                      (drives /usr/bin/chromium over CDP; it downloads nothing) and
#                      esbuild (bundles JsSIP for the page: since 3.11 JsSIP ships only
#                      CommonJS sources, no browser build)
#   build/jssip.js     `npm run bundle`: JsSIP as one browser script (global `JsSIP`)
#
# - Installs only what is missing; runs `apt-get update` only then; `npm ci` only when
#   node_modules does not match the lock file; bundles only when the bundle is missing
#   or older than package.json or the lock file.
# - Non-interactive (DEBIAN_FRONTEND=noninteractive, keeps existing conffiles).
# - Node.js 20+ and npm must already be there (playwright-core needs Node 20).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WEB_DIR="$(cd "$HERE/../tests/interop/web" && pwd)"
PACKAGES=(chromium)

log() { printf 'install-browser-deps: %s\n' "$*" >&2; }

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

# ----- Debian's Chromium

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    log "already installed: ${PACKAGES[*]} ($(dpkg-query -W -f='${Version}' chromium))"
else
    if [ "$(id -u)" -ne 0 ]; then
        log "missing packages: ${missing[*]}; run this script as root (or: sudo apt-get install ${missing[*]})"
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    log "installing: ${missing[*]}"
    apt-get update -q
    apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}"
    for pkg in "${PACKAGES[@]}"; do
        if ! is_installed "$pkg"; then
            log "package $pkg did not install"
            exit 1
        fi
    done
    log "installed: $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
fi

# ----- Node.js packages for the page and the driver

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    log "node and npm are needed (Node.js 20 or later); install them first"
    exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
    log "Node.js $(node -v) is too old: playwright-core needs 20 or later"
    exit 1
fi

# npm ci only when node_modules is not what the lock file says: npm records what it
# installed in node_modules/.package-lock.json, a copy of the lock's package entries.
lock_matches() {
    [ -f "$WEB_DIR/node_modules/.package-lock.json" ] || return 1
    node -e '
        const fs = require("fs");
        const [lockPath, installedPath] = process.argv.slice(1);
        const want = JSON.parse(fs.readFileSync(lockPath, "utf8")).packages;
        const have = JSON.parse(fs.readFileSync(installedPath, "utf8")).packages;
        for (const [path, entry] of Object.entries(want)) {
            // the root, and optional packages of other platforms (esbuild binaries)
            if (path === "" || (entry.optional && !have[path])) continue;
            if (!have[path] || have[path].version !== entry.version
                || have[path].integrity !== entry.integrity) process.exit(1);
        }
    ' "$WEB_DIR/package-lock.json" "$WEB_DIR/node_modules/.package-lock.json"
}

if lock_matches; then
    log "node_modules up to date in ${WEB_DIR}"
else
    log "npm ci in ${WEB_DIR}"
    (cd "$WEB_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

BUNDLE="$WEB_DIR/build/jssip.js"
if [ -s "$BUNDLE" ] && [ "$BUNDLE" -nt "$WEB_DIR/package-lock.json" ] && [ "$BUNDLE" -nt "$WEB_DIR/package.json" ]; then
    log "JsSIP bundle up to date: $BUNDLE"
else
    log "bundling JsSIP into $BUNDLE"
    (cd "$WEB_DIR" && npm run --silent bundle)
fi

for needed in node_modules/playwright-core/package.json build/jssip.js; do
    if [ ! -s "$WEB_DIR/$needed" ]; then
        log "$needed is missing in $WEB_DIR"
        exit 1
    fi
done
log "ready: $(/usr/bin/chromium --version 2>/dev/null), jssip $(node -p "require('$WEB_DIR/node_modules/jssip/package.json').version"), playwright-core $(node -p "require('$WEB_DIR/node_modules/playwright-core/package.json').version")"
exit 0
