#!/usr/bin/env bash
# Makes a Docker engine available for the container backend (src/envoy/container.ts) and builds the local
# Envoy image from the pinned binary. Idempotent, and careful with engines it did not start:
#   - an engine that already answers (DOCKER_HOST, else /var/run/docker.sock) is used as it is;
#   - where none answers, Debian's docker.io is installed if dockerd is missing, and dockerd is started in
#     the background with its log in .tools/dockerd.log and its pid in .tools/dockerd.pid;
#   - a dockerd that is running but not answering yet is waited for, never restarted or reconfigured;
#   - a DOCKER_HOST that does not answer is an error: it names someone else's engine.
# Then scripts/setup-envoy-image.sh builds (or keeps) the image pwas-envoy:<version>.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { echo "setup-docker: $*"; }
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

# How long dockerd may take to answer `docker info` after it was started (a cold start with overlay2 and
# iptables setup takes a few seconds; a loaded machine more).
WAIT_SECONDS="${PWAS_DOCKERD_WAIT_SECONDS:-60}"

answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

wait_for_engine() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  until answers; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "no answer from 'docker info' within ${WAIT_SECONDS}s" >&2
      if [ -S /var/run/docker.sock ] && [ ! -w /var/run/docker.sock ]; then
        say "/var/run/docker.sock is not writable for $(id -un): add the user to the docker group" >&2
      fi
      return 1
    fi
    # /proc rather than kill -0: a dockerd started through sudo is root's, and kill -0 would fail on it.
    if [ -n "${1:-}" ] && [ ! -d "/proc/$1" ]; then
      say "dockerd (pid $1) exited; the end of .tools/dockerd.log:" >&2
      tail -n 20 "$root/.tools/dockerd.log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

engine_summary() { docker info --format '{{.ServerVersion}}, storage {{.Driver}}, cgroups {{.CgroupDriver}}' 2>/dev/null || echo "version unknown"; }

if answers; then
  say "a Docker engine already answers ($(engine_summary)); left as it is"
  exec bash "$root/scripts/setup-envoy-image.sh"
fi

if [ -n "${DOCKER_HOST:-}" ]; then
  say "DOCKER_HOST=$DOCKER_HOST does not answer; start that engine, or unset DOCKER_HOST to use a local one" >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    say "no Docker engine answers, dockerd is not installed and apt-get is not available; install Docker" >&2
    exit 1
  fi
  if ! apt-cache show docker.io >/dev/null 2>&1; then
    say "apt-get update (docker.io is not in the package lists yet)"
    $SUDO apt-get update -qq
  fi
  say "installing Debian's docker.io with apt-get"
  # Without recommends: the engine, containerd, runc and iptables are dependencies; the rest is not needed.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker.io >/dev/null
  say "installed docker.io $(dpkg-query -W -f '${Version}' docker.io)"
  # Where an init system runs, the package starts its service itself.
  if answers; then
    say "the docker.io service answers ($(engine_summary))"
    exec bash "$root/scripts/setup-envoy-image.sh"
  fi
fi

mkdir -p "$root/.tools"
running="$(pgrep -x dockerd | head -n 1 || true)"
if [ -n "$running" ]; then
  # Someone's dockerd is starting (or stuck): wait for it, but do not touch it.
  say "dockerd (pid $running) is running but does not answer yet; waiting for it"
  wait_for_engine "$running"
else
  say "starting dockerd (log: .tools/dockerd.log)"
  # setsid: the engine outlives this script and the make run, as a service would.
  $SUDO setsid dockerd >>"$root/.tools/dockerd.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$root/.tools/dockerd.pid"
  wait_for_engine "$pid"
fi
say "Docker engine ready ($(engine_summary))"
exec bash "$root/scripts/setup-envoy-image.sh"
