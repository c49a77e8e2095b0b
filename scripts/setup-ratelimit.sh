#!/usr/bin/env bash
# Installs what the ratelimit filter's global-mode tests need, and nothing else:
#   - redis-server (Debian package), when it is not on PATH yet;
#   - envoyproxy/ratelimit's service binary, built from the Go module at a pinned version into
#     .tools/bin/ratelimit (git-ignored).
# Idempotent: running it again when both are present does nothing. The binary location is read by
# src/services/locate.ts (RATELIMIT_BIN overrides it, REDIS_SERVER_BIN overrides redis-server).
set -euo pipefail

# The Go module proxy has no release tag for this module newer than its Go API; this pseudo-version is
# the head of its main branch on 2026-01-22 (`go list -m github.com/envoyproxy/ratelimit@latest`).
RATELIMIT_MODULE="github.com/envoyproxy/ratelimit"
RATELIMIT_VERSION="v1.4.1-0.20260122083618-3fb702589d36"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="$ROOT/.tools/bin"
STAMP="$BIN_DIR/.ratelimit-version"

say() { echo "setup-ratelimit: $*"; }

# ---- redis-server
if command -v redis-server >/dev/null 2>&1; then
  say "redis-server present: $(redis-server --version | head -n1)"
else
  if ! command -v apt-get >/dev/null 2>&1; then
    say "redis-server is missing and apt-get is not available; install Redis 6 or newer by hand" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  # Only refresh the package lists when apt does not know the package yet.
  if ! apt-cache show redis-server >/dev/null 2>&1; then
    say "apt-get update (redis-server is not in the package lists yet)"
    $SUDO apt-get update -qq
  fi
  say "installing redis-server with apt-get"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  # The package starts a system-wide instance on 6379; the tests start their own on free ports and do
  # not need it. It is left as the package set it up.
  say "installed: $(redis-server --version | head -n1)"
fi

# ---- envoyproxy/ratelimit
if [ -x "$BIN_DIR/ratelimit" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$RATELIMIT_VERSION" ]; then
  say "ratelimit service present: $BIN_DIR/ratelimit ($RATELIMIT_VERSION)"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  say "go is not on PATH; install Go 1.25 or newer to build the ratelimit service" >&2
  exit 1
fi
mkdir -p "$BIN_DIR"
say "building $RATELIMIT_MODULE/src/service_cmd@$RATELIMIT_VERSION with $(go version | cut -d' ' -f3) (first run downloads modules; a few minutes)"
# GOFLAGS=-mod=mod keeps a developer's workspace settings out of the way; GOTOOLCHAIN=auto lets an older
# local Go fetch the toolchain the module asks for from the module proxy.
GOBIN="$BIN_DIR" GOFLAGS="-mod=mod" GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" \
  go install "$RATELIMIT_MODULE/src/service_cmd@$RATELIMIT_VERSION"
mv -f "$BIN_DIR/service_cmd" "$BIN_DIR/ratelimit"
echo "$RATELIMIT_VERSION" > "$STAMP"
say "installed $BIN_DIR/ratelimit"
