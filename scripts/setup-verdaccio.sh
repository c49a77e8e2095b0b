#!/usr/bin/env bash
# Installs the tools the package e2e test (e2e/packages.test.ts) needs, into the git-ignored .tools/:
#   - Verdaccio 6.8.0, a real npm registry started on a loopback port, from scripts/verdaccio's pinned
#     package.json and lockfile (6.8 needs its node-fetch pinned to 2.7.0 through npm overrides; 6.10
#     needs Node 22). It stays out of the root devDependencies: nothing else in the project uses it.
#   - actionlint 1.7.12, which checks the GitHub Actions workflow that generated projects carry, built
#     with `go install` from the Go module proxy into .tools/bin.
# Idempotent: each tool is installed only when missing or when its pinned input changed.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup-verdaccio: $*"; }

VERDACCIO_DIR=.tools/verdaccio
if [ -x "$VERDACCIO_DIR/node_modules/.bin/verdaccio" ] && cmp -s scripts/verdaccio/package-lock.json "$VERDACCIO_DIR/package-lock.json"; then
  say "verdaccio present ($VERDACCIO_DIR)"
else
  say "installing verdaccio into $VERDACCIO_DIR"
  mkdir -p "$VERDACCIO_DIR"
  cp scripts/verdaccio/package.json scripts/verdaccio/package-lock.json "$VERDACCIO_DIR/"
  (cd "$VERDACCIO_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi

ACTIONLINT_VERSION=1.7.12
ACTIONLINT=.tools/bin/actionlint
if [ -x "$ACTIONLINT" ] && [ "$("$ACTIONLINT" -version | head -n 1)" = "$ACTIONLINT_VERSION" ]; then
  say "actionlint $ACTIONLINT_VERSION present ($ACTIONLINT)"
else
  if ! command -v go >/dev/null 2>&1; then
    say "go is needed to build actionlint (apt-get install golang-go, or https://go.dev/dl/)" >&2
    exit 1
  fi
  say "building actionlint $ACTIONLINT_VERSION into .tools/bin"
  mkdir -p .tools/bin
  GOBIN="$PWD/.tools/bin" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
fi
