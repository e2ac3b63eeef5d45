#!/usr/bin/env bash
# Build the local test images (Debian 12 bookworm, Debian 13 trixie, each with systemd and
# python3) without any registry: debootstrap a rootfs, `docker import` it, then
# `docker build` the systemd layer in molecule/images/Dockerfile on top.
# An image is rebuilt only when it is missing or its recipe
# (molecule/images/*) changed; the recipe's hash is kept in the image's `cachewright.recipe` label.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SUITES=("${@:-bookworm trixie}")
read -r -a SUITES <<<"${SUITES[*]}"
MIRROR="${CW_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CACHE_DIR="${CW_CACHE_DIR:-/var/cache/cachewright}"
PACKAGES="$(grep -v '^#' "${CW_ROOT}/molecule/images/packages.txt" | paste -sd, -)"

recipe_hash() {
  # Everything in molecule/images/ is the recipe; the suite name is added by the caller.
  cat "${CW_ROOT}"/molecule/images/* | sha256sum | cut -c1-16
}

build_one() {
  local suite="$1" want have image rootfs_image workdir
  image="cachewright/debian:${suite}"
  rootfs_image="cachewright/debian-rootfs:${suite}"
  want="$(recipe_hash)"
  have="$(docker image inspect --format '{{ index .Config.Labels "cachewright.recipe" }}' "${image}" 2>/dev/null || true)"
  if [ "${have}" = "${want}" ]; then
    info "${image}: up to date (recipe ${want})"
    return 0
  fi
  info "${image}: building (recipe ${want}${have:+, was ${have}})"
  command -v debootstrap >/dev/null || apt_install debootstrap
  workdir="$(mktemp -d "${TMPDIR:-/tmp}/cw-rootfs-${suite}.XXXXXX")"
  mkdir -p "${CACHE_DIR}/debs-${suite}"
  # shellcheck disable=SC2064
  trap "rm -rf '${workdir}'" RETURN
  debootstrap --variant=minbase --include="${PACKAGES}" \
    --cache-dir="${CACHE_DIR}/debs-${suite}" "${suite}" "${workdir}/rootfs" "${MIRROR}" \
    >"${workdir}/debootstrap.log" 2>&1 || { tail -n 30 "${workdir}/debootstrap.log"; die "debootstrap ${suite} failed"; }
  # A container resolves names through Docker; the rootfs must not carry the host's files.
  rm -f "${workdir}/rootfs/etc/hostname" "${workdir}/rootfs/etc/resolv.conf"
  rm -rf "${workdir}/rootfs/var/lib/apt/lists/"* "${workdir}/rootfs/var/cache/apt/archives/"*.deb
  tar -C "${workdir}/rootfs" -c . | docker import - "${rootfs_image}" >/dev/null
  docker build --build-arg "ROOTFS=${rootfs_image}" \
    --label "cachewright.recipe=${want}" -t "${image}" "${CW_ROOT}/molecule/images" \
    >"${workdir}/build.log" 2>&1 || { tail -n 30 "${workdir}/build.log"; die "docker build ${suite} failed"; }
  info "${image}: built"
}

command -v docker >/dev/null || die "docker is missing: run scripts/docker-engine.sh first"
start=$(now)
for suite in "${SUITES[@]}"; do
  build_one "${suite}"
done
info "image preparation took $(( $(now) - start ))s"
