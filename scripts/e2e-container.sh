#!/usr/bin/env bash
# Runs e2e test files (the arguments) with Envoy on the container backend: the local image pwas-envoy:<version>
# under testcontainers, without its reaper (its image cannot be pulled here; the harness removes what it
# starts). Every container gets the label pwas.test=1; afterwards none may be left, and at least one must
# have run, so a set that silently fell back to local processes fails too.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { echo "e2e-container: $*"; }

# The engine may have stopped since `make setup` (a reboot): this starts it again, and keeps the image.
bash scripts/setup-docker.sh

version="$(sed -n 's/^export const ENVOY_VERSION = "\([0-9][0-9.]*\)";$/\1/p' src/envoy/version.ts)"
label="pwas.test=1"
since="$(date +%s)"
status=0
PWAS_ENVOY_BACKEND=container PWAS_ENVOY_IMAGE="${PWAS_ENVOY_IMAGE:-pwas-envoy:$version}" \
  PWAS_ENVOY_LABELS="$label" TESTCONTAINERS_RYUK_DISABLED=true \
  npx jest --ci --runTestsByPath "$@" || status=$?

started="$(docker events --since "$since" --until "$(date +%s)" --filter "label=$label" --filter event=start --format '{{.ID}}' | sort -u | wc -l)"
left="$(docker ps -aq --filter "label=$label")"
if [ -n "$left" ]; then
  say "containers left behind by the tests:" >&2
  docker ps -a --filter "label=$label" >&2
  docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null
  status=1
elif [ "$started" -eq 0 ]; then
  say "no container with $label was started: the tests did not run on the container backend" >&2
  status=1
else
  say "$started Envoy containers started, none left (docker ps -a --filter label=$label is empty)"
fi
exit "$status"
