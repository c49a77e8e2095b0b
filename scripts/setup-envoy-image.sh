#!/usr/bin/env bash
# Builds the local Envoy image pwas-envoy:<version> from the pinned binary in .tools/ (scripts/setup-envoy.sh)
# with src/envoy/image/Dockerfile. Cached: the image carries the sha256 of the binary and of the Dockerfile
# as labels, and is rebuilt only when one of them differs. The container backend runs it when PWAS_ENVOY_IMAGE names it
# (the tests do); users' default is the official envoyproxy/envoy image.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { echo "setup-envoy-image: $*"; }
version="$(sed -n 's/^export const ENVOY_VERSION = "\([0-9][0-9.]*\)";$/\1/p' "$root/src/envoy/version.ts")"
[ -n "$version" ] || { say "could not read ENVOY_VERSION from src/envoy/version.ts" >&2; exit 1; }
bin="$root/.tools/envoy-$version/envoy/_bin/envoy"
[ -x "$bin" ] || { say "$bin is missing: run scripts/setup-envoy.sh first" >&2; exit 1; }
image="pwas-envoy:$version"

dockerfile="$root/src/envoy/image/Dockerfile"
sha="$(sha256sum "$bin" | cut -d' ' -f1)"
dsha="$(sha256sum "$dockerfile" | cut -d' ' -f1)"
have="$(docker image inspect --format '{{ index .Config.Labels "pwas.envoy.sha256" }} {{ index .Config.Labels "pwas.dockerfile.sha256" }}' "$image" 2>/dev/null || true)"
if [ "$have" = "$sha $dsha" ]; then
  say "$image is up to date (binary sha256 ${sha:0:12})"
  exit 0
fi

old="$(docker image inspect --format '{{ .Id }}' "$image" 2>/dev/null || true)"
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/tmp"
chmod 1777 "$ctx/rootfs/tmp"
cp "$bin" "$ctx/rootfs/usr/local/bin/envoy"
# Every library the binary links, at the path the dynamic loader looks for it (the loader included).
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
  mkdir -p "$ctx/rootfs$(dirname "$lib")"
  cp -L "$lib" "$ctx/rootfs$lib"
done
cp "$dockerfile" "$ctx/Dockerfile"

say "building $image from $bin (sha256 ${sha:0:12})"
# Output only on failure: the build itself is four steps, and newer clients warn about the legacy builder.
if ! log="$(docker build --build-arg "ENVOY_VERSION=$version" --build-arg "ENVOY_SHA256=$sha" --build-arg "DOCKERFILE_SHA256=$dsha" -t "$image" "$ctx" 2>&1)"; then
  echo "$log" >&2
  say "docker build failed" >&2
  exit 1
fi
out="$(docker run --rm --network none "$image" --version)"
[[ "$out" == *"/$version/"* ]] || { say "$image does not report Envoy $version: $out" >&2; exit 1; }
# The previous build of this tag, now untagged, is ours to remove (kept if a container still uses it).
if [ -n "$old" ] && [ "$old" != "$(docker image inspect --format '{{ .Id }}' "$image")" ]; then
  docker image rm "$old" >/dev/null 2>&1 || true
fi
size="$(docker image inspect --format '{{ .Size }}' "$image")"
say "built $image ($((size / 1000000)) MB)"
