#!/usr/bin/env bash
# Installs what the OCI tests (e2e/oci.test.ts) need, and nothing else, from Debian packages:
#   - docker-registry: the CNCF distribution server, started by the tests on a free loopback port;
#   - skopeo: an independent client that inspects and copies what `pwas push` stored;
#   - apache2-utils: `htpasswd -B`, the bcrypt password file the registry's basic auth reads.
# Idempotent: a package already installed is left alone, and `apt-get update` runs only when apt does
# not know a missing package yet. Binary locations are read by src/services/registry.ts
# (DOCKER_REGISTRY_BIN, SKOPEO_BIN and HTPASSWD_BIN override them).
set -euo pipefail

say() { echo "setup-registry: $*"; }

# package → the binary it provides
declare -A BINARY=([docker-registry]=docker-registry [skopeo]=skopeo [apache2-utils]=htpasswd)

missing=()
for pkg in docker-registry skopeo apache2-utils; do
  bin="${BINARY[$pkg]}"
  if command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/bin/$bin" ] || [ -x "/usr/sbin/$bin" ]; then
    say "$pkg present ($bin)"
  else
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  say "missing ${missing[*]} and apt-get is not available; install them with your package manager" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

for pkg in "${missing[@]}"; do
  if ! apt-cache show "$pkg" >/dev/null 2>&1; then
    say "apt-get update ($pkg is not in the package lists yet)"
    $SUDO apt-get update -qq
    break
  fi
done

say "installing ${missing[*]} with apt-get"
# The docker-registry package registers a system service on port 5000; where no init system runs (CI
# containers) it is simply not started. The tests start their own registry on free ports and never use it.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for pkg in "${missing[@]}"; do
  say "installed $pkg: $(dpkg-query -W -f '${Version}' "$pkg")"
done
