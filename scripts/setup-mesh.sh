#!/usr/bin/env bash
# Installs the real mesh components the control-plane tests run, pinned in src/mesh/versions.ts:
#   - etcd (Debian package etcd-server), when it is not on PATH yet;
#   - kube-apiserver, built from k8s.io/kubernetes (tools/kube/go.mod) into .tools/mesh/kubernetes-<version>/;
#   - pilot-discovery (istiod), pilot-agent (istio-agent) and istioctl, built from istio.io/istio at the
#     pinned pseudo-version into .tools/mesh/istio-<version>/, with Istio's CRDs from the same commit
#     (manifests/charts/base/files/crd-all.gen.yaml, read from the Go module cache) and a RELEASE note;
#   - the Gateway API CRDs (standard channel) of the sigs.k8s.io/gateway-api version that Istio commit's
#     go.mod requires, for the waypoint tests: one file, gateway-api-standard.yaml, in the same folder.
# Idempotent: a component whose folder is complete is left alone. Cold, the two Go builds take about 11
# minutes on 2 cores; they run one after the other so they do not fight for memory.
# MESH_TOOLS_DIR moves the output (default .tools/mesh), e.g. to try a cold install beside a warm one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSIONS="$ROOT/src/mesh/versions.ts"
pin() { sed -n "s/^export const $1 = \"\\([^\"]*\\)\";\$/\\1/p" "$VERSIONS"; }
ISTIO_VERSION="$(pin ISTIO_MODULE_VERSION)"
ISTIO_RELEASE="$(pin ISTIO_RELEASE)"
KUBE_VERSION="$(pin KUBERNETES_VERSION)"
GATEWAY_API_VERSION="$(pin GATEWAY_API_VERSION)"
if [[ -z "$ISTIO_VERSION" || -z "$ISTIO_RELEASE" || -z "$KUBE_VERSION" || -z "$GATEWAY_API_VERSION" ]]; then
  echo "setup-mesh: could not read the pins from src/mesh/versions.ts" >&2
  exit 1
fi
OUT="${MESH_TOOLS_DIR:-$ROOT/.tools/mesh}"
ISTIO_DIR="$OUT/istio-$ISTIO_VERSION"
KUBE_DIR="$OUT/kubernetes-$KUBE_VERSION"

say() { echo "setup-mesh: $*"; }
need_go() {
  if ! command -v go >/dev/null 2>&1; then
    say "go is not on PATH; install Go 1.26 or newer to build $1" >&2
    exit 1
  fi
}
# GOFLAGS keeps a developer's workspace settings out of the way; GOTOOLCHAIN=auto lets an older local Go
# fetch the toolchain a module asks for from the module proxy.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

# ---- etcd
if command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ]; then
  say "etcd present"
else
  if ! command -v apt-get >/dev/null 2>&1; then
    say "etcd is missing and apt-get is not available; install etcd 3.4 or newer by hand" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  if ! apt-cache show etcd-server >/dev/null 2>&1; then
    say "apt-get update (etcd-server is not in the package lists yet)"
    $SUDO apt-get update -qq
  fi
  say "installing etcd-server with apt-get"
  # The package registers a system service; where no init system runs it is not started, and the tests
  # start their own etcd on free ports either way. Another apt run may hold the lock: wait for it.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends etcd-server >/dev/null
  say "installed etcd-server $(dpkg-query -W -f '${Version}' etcd-server)"
fi

# ---- kube-apiserver
if [ -x "$KUBE_DIR/kube-apiserver" ]; then
  say "kube-apiserver present: $KUBE_DIR ($KUBE_VERSION)"
else
  need_go kube-apiserver
  gomod_version="$(sed -n 's/^[[:space:]]*k8s.io\/kubernetes \(v[^ ]*\).*/\1/p' "$ROOT/tools/kube/go.mod" | head -n1)"
  if [ "$gomod_version" != "$KUBE_VERSION" ]; then
    say "tools/kube/go.mod requires k8s.io/kubernetes $gomod_version but src/mesh/versions.ts pins $KUBE_VERSION" >&2
    exit 1
  fi
  say "building kube-apiserver $KUBE_VERSION with $(go version | cut -d' ' -f3) (cold: about 5 minutes)"
  start=$SECONDS
  rm -rf "$KUBE_DIR.partial" && mkdir -p "$KUBE_DIR.partial"
  (cd "$ROOT/tools/kube" && GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -o "$KUBE_DIR.partial/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
  rm -rf "$KUBE_DIR" && mv "$KUBE_DIR.partial" "$KUBE_DIR"
  say "built $KUBE_DIR/kube-apiserver in $((SECONDS - start)) s"
fi

# ---- Istio
# istio-agent renders Envoy's bootstrap from a template its image ships (tools/packaging/common at the
# same commit); the sidecar tests pass it with --templateFile.
copy_bootstrap() {
  local dir
  dir="$(GOFLAGS=-mod=mod go mod download -json "istio.io/istio@$ISTIO_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  cp "$dir/tools/packaging/common/envoy_bootstrap.json" "$1/envoy_bootstrap.json"
  chmod 644 "$1/envoy_bootstrap.json"
}
# The Gateway API CRDs: the standard channel's files, in the order of its kustomization.yaml, from the
# gateway-api module Istio's go.mod requires (checked against the pin, as tools/kube/go.mod is).
copy_gateway_api() {
  local istio_dir required dir
  istio_dir="$(GOFLAGS=-mod=mod go mod download -json "istio.io/istio@$ISTIO_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  required="$(sed -n 's/^[[:space:]]*sigs.k8s.io\/gateway-api \(v[^ ]*\)$/\1/p' "$istio_dir/go.mod" | head -n1)"
  if [ "$required" != "$GATEWAY_API_VERSION" ]; then
    say "istio.io/istio@$ISTIO_VERSION requires sigs.k8s.io/gateway-api $required but src/mesh/versions.ts pins $GATEWAY_API_VERSION" >&2
    exit 1
  fi
  dir="$(GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  local files
  files="$(sed -n 's/^[[:space:]]*- \(standard\/.*\.yaml\)$/\1/p' "$dir/config/crd/kustomization.yaml")"
  if [ -z "$files" ]; then
    say "no standard-channel files listed in $dir/config/crd/kustomization.yaml" >&2
    exit 1
  fi
  {
    echo "# Gateway API $GATEWAY_API_VERSION, standard channel: config/crd/standard/ of sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION"
    echo "# (the version istio.io/istio@$ISTIO_VERSION requires), in the order of config/crd/kustomization.yaml."
    for f in $files; do
      echo "---"
      cat "$dir/config/crd/$f"
    done
  } > "$1/gateway-api-standard.yaml.partial"
  chmod 644 "$1/gateway-api-standard.yaml.partial"
  mv "$1/gateway-api-standard.yaml.partial" "$1/gateway-api-standard.yaml"
}
if [ -x "$ISTIO_DIR/pilot-discovery" ] && [ -x "$ISTIO_DIR/pilot-agent" ] && [ -x "$ISTIO_DIR/istioctl" ] && [ -s "$ISTIO_DIR/crd-all.gen.yaml" ]; then
  if [ ! -s "$ISTIO_DIR/envoy_bootstrap.json" ]; then
    need_go "Istio's bootstrap template"
    copy_bootstrap "$ISTIO_DIR"
    say "copied Istio's Envoy bootstrap template into $ISTIO_DIR"
  fi
  if [ ! -s "$ISTIO_DIR/gateway-api-standard.yaml" ]; then
    need_go "the Gateway API CRDs"
    copy_gateway_api "$ISTIO_DIR"
    say "copied the Gateway API $GATEWAY_API_VERSION CRDs (standard channel) into $ISTIO_DIR"
  fi
  say "Istio present: $ISTIO_DIR ($ISTIO_RELEASE)"
  exit 0
fi
need_go Istio
say "building pilot-discovery, pilot-agent and istioctl from istio.io/istio@$ISTIO_VERSION (cold: about 6 minutes)"
start=$SECONDS
rm -rf "$ISTIO_DIR.partial" && mkdir -p "$ISTIO_DIR.partial"
GOBIN="$ISTIO_DIR.partial" GOFLAGS="-mod=mod -buildvcs=false" go install \
  "istio.io/istio/pilot/cmd/pilot-discovery@$ISTIO_VERSION" \
  "istio.io/istio/pilot/cmd/pilot-agent@$ISTIO_VERSION" \
  "istio.io/istio/istioctl/cmd/istioctl@$ISTIO_VERSION"
# The module is in the module cache now; its Dir holds the CRDs generated at that commit.
module_dir="$(GOFLAGS=-mod=mod go mod download -json "istio.io/istio@$ISTIO_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
crds="$module_dir/manifests/charts/base/files/crd-all.gen.yaml"
if [ ! -s "$crds" ]; then
  say "no CRD file at $crds" >&2
  exit 1
fi
cp "$crds" "$ISTIO_DIR.partial/crd-all.gen.yaml"
chmod 644 "$ISTIO_DIR.partial/crd-all.gen.yaml"
copy_bootstrap "$ISTIO_DIR.partial"
copy_gateway_api "$ISTIO_DIR.partial"
cat > "$ISTIO_DIR.partial/RELEASE" <<EOF
istio.io/istio $ISTIO_VERSION (commit ${ISTIO_VERSION##*-}), Istio $ISTIO_RELEASE
crd-all.gen.yaml: manifests/charts/base/files/crd-all.gen.yaml at that commit, sha256 $(sha256sum "$crds" | cut -d' ' -f1)
EOF
rm -rf "$ISTIO_DIR" && mv "$ISTIO_DIR.partial" "$ISTIO_DIR"
say "built $ISTIO_DIR in $((SECONDS - start)) s"
