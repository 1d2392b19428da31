#!/usr/bin/env bash
# Installs a real VS Code (the server build inside the npm package code-server),
# plus Debian's Chromium and what the server's native modules need, into the
# gitignored cache folder .vscode-test/ of the repository. Works offline (npm
# registry + Debian packages only); see shared notes "offline-vscode-testing".
#
# Idempotent: a marker file records a finished install, so a second run returns
# at once. Safe to run concurrently (serialised with flock).
#
# Env:
#   FASTSAM_VSCODE_TEST_DIR  cache folder (default: <repo>/.vscode-test)
#   FASTSAM_SKIP_APT=1       never call apt-get (fail if a package is missing)
#   FORCE=1                  reinstall even if the marker exists
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${FASTSAM_VSCODE_TEST_DIR:-$ROOT/.vscode-test}"
PREFIX="$CACHE/code-server"
VSCODE="$PREFIX/node_modules/code-server/lib/vscode"
# Native modules are built against this Node's ABI: a different Node needs a new build.
NODE_ABI="$(node -p 'process.versions.modules')"
MARKER="$CACHE/.installed-code-server-$CODE_SERVER_VERSION-node-abi-$NODE_ABI"

log() { printf '[vscode-server/install] %s\n' "$*" >&2; }

apt_packages=(chromium ripgrep libkrb5-dev libxkbfile-dev libsecret-1-dev libx11-dev pkg-config)

missing_apt_packages() {
  local p
  for p in "${apt_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      printf '%s ' "$p"
    fi
  done
}

install_apt_packages() {
  local missing
  missing="$(missing_apt_packages)"
  [ -z "$missing" ] && return 0
  if [ "${FASTSAM_SKIP_APT:-}" = 1 ]; then
    log "missing Debian packages: $missing (FASTSAM_SKIP_APT=1, not installing)"
    return 1
  fi
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then sudo=(sudo -n); else
      log "missing Debian packages: $missing and not root: install them, then rerun"
      return 1
    fi
  fi
  log "apt-get install $missing"
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q)
  "${sudo[@]}" "${apt[@]}" update >&2
  # shellcheck disable=SC2086
  "${sudo[@]}" "${apt[@]}" install -y --no-install-recommends $missing >&2
}

if [ -f "$MARKER" ] && [ "${FORCE:-}" != 1 ] && [ -z "$(missing_apt_packages)" ]; then
  exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.install.lock"
flock 9
# Another run may have finished while we waited for the lock.
if [ -f "$MARKER" ] && [ "${FORCE:-}" != 1 ] && [ -z "$(missing_apt_packages)" ]; then
  exit 0
fi

start=$SECONDS
rm -f "$CACHE"/.installed-code-server-*

install_apt_packages

# node-gyp must build against the local Node headers (no downloads).
if [ -z "${npm_config_nodedir:-}" ] && [ "$(npm config get nodedir 2>/dev/null)" = undefined ]; then
  nodedir="$(cd "$(dirname "$(readlink -f "$(command -v node)")")/.." && pwd)"
  if [ -f "$nodedir/include/node/node_api.h" ]; then export npm_config_nodedir="$nodedir"; fi
fi
npm_quiet=(--no-audit --no-fund --loglevel=error)

log "npm install code-server@$CODE_SERVER_VERSION (--ignore-scripts) into $PREFIX"
mkdir -p "$PREFIX"
# A package.json of its own keeps npm from walking up into the repository.
[ -f "$PREFIX/package.json" ] || echo '{ "name": "vscode-test-code-server", "private": true }' >"$PREFIX/package.json"
npm install --prefix "$PREFIX" --ignore-scripts --no-save "${npm_quiet[@]}" "code-server@$CODE_SERVER_VERSION" >&2

log "npm install --omit=dev in lib/vscode"
(cd "$VSCODE" && npm install --omit=dev --ignore-scripts "${npm_quiet[@]}" >&2)

log "ripgrep: link /usr/bin/rg"
mkdir -p "$VSCODE/node_modules/@vscode/ripgrep/bin"
ln -sfn /usr/bin/rg "$VSCODE/node_modules/@vscode/ripgrep/bin/rg"

log "npm rebuild native modules (g++)"
# node-pty's post-install runs `npx node-gyp ...`; npx must not stop to ask
# (machines here set npm's `yes=false`), so allow it to fetch node-gyp from npm.
(cd "$VSCODE" && npm_config_yes=true npm rebuild "${npm_quiet[@]}" kerberos node-pty native-watchdog @vscode/spdlog @parcel/watcher @vscode/deviceid >&2)

ln -sfn node_modules "$VSCODE/node_modules.asar"

log "npm install --omit=dev in lib/vscode/extensions"
(cd "$VSCODE/extensions" && npm install --omit=dev --ignore-scripts "${npm_quiet[@]}" >&2)

# Sanity checks: the server entry point and a native module load.
test -f "$VSCODE/out/server-main.js"
(cd "$VSCODE" && node -e "require('@vscode/spdlog'); require('node-pty')") >&2
test -x /usr/bin/chromium

date -u +%FT%TZ >"$MARKER"
log "done in $((SECONDS - start))s"
