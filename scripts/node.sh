# Sourced by scripts/db.sh and scripts/types.sh: Node and the npm packages pinned under
# tools/ and supabase/examples. Expects ROOT and LOCAL to be set.
#
# Node 20 or newer runs them (postgres-meta's formatter uses regular-expression syntax
# Node 18 lacks). Without node or npm, apt installs Debian's; when that node is older
# than 20 (Debian 12 has 18), a pinned Node binary comes from the npm registry into
# .local/. Packages install with `npm ci --ignore-scripts` (nothing here needs a build
# step) from the committed lockfiles, once per lockfile change.

NODE_VERSION="20.20.2"

node_log() { echo "node: $*" >&2; }

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    node_log "installing nodejs and npm"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  [ "$(node_major)" -ge 20 ] && return
  local arch integrity
  case "$(uname -m)" in
    x86_64) arch=x64; integrity="sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==" ;;
    aarch64) arch=arm64; integrity="sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==" ;;
    *) node_log "node $(node --version) is older than 20 and no Node binary is pinned for $(uname -m)"; exit 1 ;;
  esac
  local dir="$LOCAL/node-v$NODE_VERSION-linux-$arch"
  if [ ! -x "$dir/bin/node" ]; then
    node_log "node $(node --version) is older than 20: fetching Node $NODE_VERSION (node-linux-$arch) from the npm registry"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-$arch@$NODE_VERSION" >/dev/null)
    local got
    got="sha512-$(node -e 'process.stdout.write(require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' \
      "$tmp/node-linux-$arch-$NODE_VERSION.tgz")"
    if [ "$got" != "$integrity" ]; then
      node_log "node-linux-$arch@$NODE_VERSION: integrity $got, expected $integrity"; rm -rf "$tmp"; exit 1
    fi
    tar -xzf "$tmp/node-linux-$arch-$NODE_VERSION.tgz" -C "$tmp"
    mkdir -p "$LOCAL"
    rm -rf "$dir"; mv "$tmp/package" "$dir"; rm -rf "$tmp"
  fi
  export PATH="$dir/bin:$PATH"
}

# npm ci in a package directory (relative to ROOT or absolute), again only when its
# package.json or lockfile changed.
npm_ci() {
  local dir="$1" want stamp="$1/node_modules/.installed-from"
  want="$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -c1-64)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    node_log "npm ci in $dir"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    echo "$want" > "$stamp"
  fi
}
