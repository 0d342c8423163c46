#!/bin/sh
# Builds docker/Dockerfile into the image $IMAGE: with docker when its engine answers, otherwise with buildah
# (chroot isolation, vfs storage: no daemon needed), then copies the image's apt versions into its label
# mnd.apt-packages. Used by `make docker` and tests/container. Settings, from the environment:
#   IMAGE       the image's name (default mnd)
#   BASE_IMAGE  the base (default debian:bookworm-slim). When it is neither local nor pullable (no registry), it is
#               made with docker/base_image.py (debootstrap, cached in ~/.cache/mnd) and imported under that name.
#   STORAGE     a private containers-storage folder for buildah and podman (root/ and run/ inside); implies buildah.
#   PIP_CACHE   a pip cache folder mounted into the build (buildah only), e.g. ~/.cache/pip.
# The host's CA bundle ($SSL_CERT_FILE, $PIP_CERT or $REQUESTS_CA_BUNDLE, the first that is a file) is given to
# the build as the secret ca_bundle, for pip behind a TLS-inspecting proxy.
set -eu
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-mnd}
BASE_IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin  # the official image's PATH

ca=""
for candidate in "${SSL_CERT_FILE:-}" "${PIP_CERT:-}" "${REQUESTS_CA_BUNDLE:-}"; do
  if [ -n "$candidate" ] && [ -f "$candidate" ]; then ca=$candidate; break; fi
done

if [ -z "${STORAGE:-}" ] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || docker pull "$BASE_IMAGE" \
    || docker import --change "ENV PATH=$BASE_PATH" --change 'CMD ["bash"]' "$(python3 docker/base_image.py)" \
         "$BASE_IMAGE"
  DOCKER_BUILDKIT=1 docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" ${ca:+--secret "id=ca_bundle,src=$ca"} \
    -f docker/Dockerfile -t "$IMAGE" .
  versions=$(docker run --rm --entrypoint cat "$IMAGE" /opt/mnd/apt-packages.txt | paste -s -d ' ')
  printf 'FROM %s\nLABEL mnd.apt-packages="%s"\n' "$IMAGE" "$versions" | DOCKER_BUILDKIT=1 docker build -q -t "$IMAGE" -
  exit 0
fi

case "${PIP_CACHE:-}" in
  *:*) echo "build.sh: PIP_CACHE '$PIP_CACHE' holds a ':', which a volume mount cannot take; use a path without one" >&2
       exit 2;;
esac
for tool in buildah podman; do
  command -v $tool >/dev/null || { echo "build.sh: no docker engine and no $tool; run 'make toolchain'" >&2; exit 2; }
done
# the storage options as the positional parameters (sh has no arrays), so that a path with spaces stays one word
set -- --storage-driver vfs
if [ -n "${STORAGE:-}" ]; then set -- "$@" --root "$STORAGE/root" --runroot "$STORAGE/run"; fi
if ! buildah "$@" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1 \
   && ! buildah "$@" pull --quiet "$BASE_IMAGE" >/dev/null; then
  echo "build.sh: $BASE_IMAGE cannot be pulled; making it with debootstrap (docker/base_image.py)" >&2
  podman "$@" import --quiet --change "ENV PATH=$BASE_PATH" --change 'CMD ["bash"]' \
    "$(python3 docker/base_image.py)" "$BASE_IMAGE" >/dev/null
fi
buildah "$@" bud --isolation chroot --build-arg "BASE_IMAGE=$BASE_IMAGE" ${ca:+--secret "id=ca_bundle,src=$ca"} \
  ${PIP_CACHE:+--volume "$PIP_CACHE:/root/.cache/pip" --build-arg PIP_CACHE=/root/.cache/pip} \
  -f docker/Dockerfile -t "$IMAGE" .
unlabelled=$(buildah "$@" inspect --type image --format '{{.FromImageID}}' "$IMAGE")
container=$(buildah "$@" from --pull-never "$IMAGE")
versions=$(paste -s -d ' ' "$(buildah "$@" mount "$container")/opt/mnd/apt-packages.txt")
buildah "$@" umount "$container" >/dev/null
buildah "$@" config --label "mnd.apt-packages=$versions" "$container"
buildah "$@" commit --quiet --rm "$container" "$IMAGE" >/dev/null
buildah "$@" rmi "$unlabelled" >/dev/null
