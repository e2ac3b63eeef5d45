#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Make sure a Docker engine answers. On a bare Debian machine where we are root and no
# engine runs (no systemd on the host either), install docker.io and start dockerd in the
# background, then wait for its socket. Anywhere else, say what to do and stop.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if docker info >/dev/null 2>&1; then
  info "Docker engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  die "no Docker engine answers. Start one (e.g. 'sudo systemctl start docker') and run again."
fi
command -v dockerd >/dev/null || apt_install docker.io
if ! pgrep -x dockerd >/dev/null; then
  # A dockerd that was killed (say, when a session ended) leaves its pid file behind.
  rm -f /var/run/docker.pid
  info "starting dockerd in the background (log: /var/log/cachewright-dockerd.log)"
  nohup dockerd >/var/log/cachewright-dockerd.log 2>&1 &
fi
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    info "Docker engine answers ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
tail -n 20 /var/log/cachewright-dockerd.log >&2 || true
die "dockerd did not answer within 60s"
