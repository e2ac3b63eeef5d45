#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the local test images (Debian 12 bookworm, Debian 13 trixie, each with systemd and
# python3) without any registry: debootstrap a rootfs, `docker import` it, then
# `docker build` the systemd layer in molecule/images/Dockerfile on top.
# Each image also carries what the roles and scenarios install, so their installs run from
# local files: the .deb files of molecule/images/debs.txt in /var/cache/apt/archives, and a
# wheelhouse of the app's pins (roles/django_cache/files/app-requirements.txt) and
# molecule/images/wheels.txt in /var/cache/cachewright/wheels.
# An image is rebuilt only when it is missing or its recipe (molecule/images/* and the app's
# pins) changed; the recipe's hash is kept in the image's `cachewright.recipe` label.
# CW_IMAGE_REPO names the images (default cachewright/debian: cachewright/debian:<suite>, and
# cachewright/debian-rootfs:<suite> for the imported rootfs), e.g. to try a recipe change
# beside the images other runs use.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SUITES=("${@:-bookworm trixie}")
read -r -a SUITES <<<"${SUITES[*]}"
MIRROR="${CW_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CACHE_DIR="${CW_CACHE_DIR:-/var/cache/cachewright}"
IMAGE_REPO="${CW_IMAGE_REPO:-cachewright/debian}"
PACKAGES="$(grep -v '^#' "${CW_ROOT}/molecule/images/packages.txt" | paste -sd, -)"
APP_PINS="${CW_ROOT}/roles/django_cache/files/app-requirements.txt"
# The controller's CA bundle: pip trusts it while it downloads the wheelhouse (as the test
# containers do, see molecule/shared/platform_defaults.yml). It is not part of the image.
CONTROLLER_CA="/etc/ssl/certs/ca-certificates.crt"

recipe_hash() {
  # Everything in molecule/images/ and the app's pins are the recipe: a change of a package
  # list or of a pinned version rebuilds the images.
  cat "${CW_ROOT}"/molecule/images/* "${APP_PINS}" | sha256sum | cut -c1-16
}

debs_for() {
  # The packages of molecule/images/debs.txt for one suite: lines without suite names, and
  # those that name it.
  local suite="$1"
  grep -v '^#' "${CW_ROOT}/molecule/images/debs.txt" \
    | awk -v suite="${suite}" 'NF == 1 { print $1 } NF > 1 { for (i = 2; i <= NF; i++) if ($i == suite) print $1 }'
}

build_one() {
  local suite="$1" want have image rootfs_image workdir
  image="${IMAGE_REPO}:${suite}"
  rootfs_image="${IMAGE_REPO}-rootfs:${suite}"
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
  # debootstrap leaves the .deb files of the base system in the archives; the image keeps
  # those of debs.txt instead, downloaded in the rootfs with its own apt (dependencies and
  # recommends, as the roles' installs pull them).
  rm -f "${workdir}/rootfs/var/cache/apt/archives/"*.deb
  # Packages listed for <suite>-backports come from that archive (as the roles install them
  # there: Valkey on Debian 12). Its source is in the rootfs only for the download.
  local backports
  backports="$(debs_for "${suite}-backports")"
  if [ -n "${backports}" ]; then
    echo "deb ${MIRROR} ${suite}-backports main" >"${workdir}/rootfs/etc/apt/sources.list.d/cw-backports.list"
  fi
  # shellcheck disable=SC2046 # one word per package
  { chroot "${workdir}/rootfs" apt-get update -q \
      && chroot "${workdir}/rootfs" apt-get install -y -q --download-only $(debs_for "${suite}") \
      && { [ -z "${backports}" ] \
             || chroot "${workdir}/rootfs" apt-get install -y -q --download-only -t "${suite}-backports" ${backports}; }; } \
    >"${workdir}/debs.log" 2>&1 || { tail -n 30 "${workdir}/debs.log"; die "downloading the .deb files for ${suite} failed"; }
  rm -f "${workdir}/rootfs/etc/apt/sources.list.d/cw-backports.list"
  info "${suite}: $(find "${workdir}/rootfs/var/cache/apt/archives" -name '*.deb' | wc -l) .deb files in the image's apt archives"
  # A container resolves names through Docker; the rootfs must not carry the host's files.
  # The package lists go: a container fetches its own (see the Dockerfile).
  rm -f "${workdir}/rootfs/etc/hostname" "${workdir}/rootfs/etc/resolv.conf"
  rm -rf "${workdir}/rootfs/var/lib/apt/lists/"* "${workdir}/rootfs/var/cache/apt/"*.bin \
    "${workdir}/rootfs/var/cache/apt/archives/partial/"*
  tar -C "${workdir}/rootfs" -c . | docker import - "${rootfs_image}" >/dev/null
  # The build context: the Dockerfile, the wheelhouse's requirements, the controller's CA.
  mkdir "${workdir}/context"
  cp "${CW_ROOT}/molecule/images/Dockerfile" "${workdir}/context/"
  grep -hv '^#' "${APP_PINS}" "${CW_ROOT}/molecule/images/wheels.txt" >"${workdir}/context/wheel-requirements.txt"
  if [ -f "${CONTROLLER_CA}" ]; then
    cp "${CONTROLLER_CA}" "${workdir}/context/controller-ca.crt"
  else
    : >"${workdir}/context/controller-ca.crt"
  fi
  docker build --build-arg "ROOTFS=${rootfs_image}" \
    --label "cachewright.recipe=${want}" -t "${image}" "${workdir}/context" \
    >"${workdir}/build.log" 2>&1 || { tail -n 30 "${workdir}/build.log"; die "docker build ${suite} failed"; }
  info "${image}: built"
}

command -v docker >/dev/null || die "docker is missing: run scripts/docker-engine.sh first"
start=$(now)
for suite in "${SUITES[@]}"; do
  build_one "${suite}"
done
info "image preparation took $(( $(now) - start ))s"
