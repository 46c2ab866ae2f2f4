#!/usr/bin/env bash
# The sidecar's container image, built here with no registry: a static binary from
# the project's Go on `FROM scratch` (deploy/Containerfile), assembled by podman.
#
#   scripts/image.sh              build the image and write it as an archive that
#                                 `podman load` and `docker load` read (docker-archive:
#                                 it keeps HEALTHCHECK, see below); the archive's path
#                                 is the last line of output
#   scripts/image.sh podman ...   podman on the project's own storage (what the tests use)
#   scripts/image.sh env          the variables that point podman at that storage
#   scripts/image.sh install      install podman and what it needs (apt), nothing else
#
# Podman's storage, run state and settings live in .local/containers/ (git-ignored):
# nothing global is touched. IMAGE overrides the image name (default: the name and
# tag deploy/k8s/kustomization.yaml deploys, so the manifests find the loaded image).
#
# Archive format: docker-archive (`podman save --format docker-archive`). Every
# `docker load` reads it (an OCI archive only since Docker 25) and so does
# `podman load`; and it carries the Docker image config, which has HEALTHCHECK,
# where the OCI config has no such field and converting drops it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LOCAL="$ROOT/.local/containers"

log() { echo "image: $*" >&2; }

default_image() {
  local k="$ROOT/deploy/k8s/kustomization.yaml" name tag
  name="$(sed -n 's/^ *newName: *//p' "$k" | head -n1)"
  tag="$(sed -n 's/^ *newTag: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$k" | head -n1)"
  echo "${name:-talent-sidecar}:${tag:-dev}"
}
IMAGE="${IMAGE:-$(default_image)}"
ARCHIVE="$ROOT/bin/talent-sidecar-image.tar"

install_packages() {
  local need=()
  command -v podman >/dev/null || need+=(podman)
  command -v buildah >/dev/null || need+=(buildah)
  command -v runc >/dev/null || need+=(runc)
  [ -x /usr/bin/catatonit ] || [ -x /usr/libexec/podman/catatonit ] || need+=(catatonit)
  command -v newuidmap >/dev/null || need+=(uidmap)
  command -v fuse-overlayfs >/dev/null || need+=(fuse-overlayfs)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 \
      --no-install-recommends "${need[@]}" >/dev/null
  fi
}

# Settings of our own: vfs storage (no overlay mounts needed), cgroupfs and runc
# (systemd and crun fail on this machine's hybrid cgroups), resource limits at or
# below the machine's (the runtime may not raise them), state under .local/.
write_config() {
  mkdir -p "$LOCAL"/{storage,run,tmp,networks}
  cat > "$LOCAL/storage.conf" <<EOF
# Written by scripts/image.sh; podman reads it through CONTAINERS_STORAGE_CONF.
[storage]
driver = "vfs"
graphroot = "$LOCAL/storage"
runroot = "$LOCAL/run"
EOF
  cat > "$LOCAL/containers.conf" <<EOF
# Written by scripts/image.sh; podman reads it through CONTAINERS_CONF.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
events_logfile_path = "$LOCAL/events.log"
tmp_dir = "$LOCAL/tmp"

[network]
network_config_dir = "$LOCAL/networks"
EOF
}

export CONTAINERS_CONF="$LOCAL/containers.conf"
export CONTAINERS_STORAGE_CONF="$LOCAL/storage.conf"

build() {
  install_packages
  write_config
  local ctx="$ROOT/.local/image/context"
  rm -rf "$ctx"
  mkdir -p "$ctx/etc" "$ROOT/bin"
  log "building the static binary with $(go env GOVERSION)"
  (cd "$ROOT" && CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w" -o "$ctx/sidecar" ./sidecar/cmd/sidecar)
  printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' > "$ctx/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' > "$ctx/etc/group"
  chmod 0755 "$ctx/sidecar"
  chmod 0644 "$ctx/etc/passwd" "$ctx/etc/group"
  log "podman build $IMAGE (FROM scratch, deploy/Containerfile)"
  # --timestamp 0: the same binary gives the same image id.
  podman build -q --format docker --timestamp 0 -f "$ROOT/deploy/Containerfile" -t "$IMAGE" "$ctx" >/dev/null
  podman image prune -f >/dev/null
  rm -f "$ARCHIVE"
  podman save -q --format docker-archive -o "$ARCHIVE" "$IMAGE"
  log "$(podman image inspect --format '{{.Id}} {{.Size}} bytes' "$IMAGE" | cut -c1-12,65-)"
  echo "$ARCHIVE"
}

case "${1:-build}" in
  build) build ;;
  install) install_packages ;;
  podman) shift; write_config; exec podman "$@" ;;
  env) write_config; echo "CONTAINERS_CONF=$CONTAINERS_CONF"; echo "CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF" ;;
  *) echo "usage: $0 [build|install|podman ARGS...|env]" >&2; exit 2 ;;
esac
