#!/usr/bin/env bash
# make image / make test-image.
#
#   scripts/image.sh build    builds $IMAGE from the Dockerfile and prints its size
#   scripts/image.sh test     the same, then test/image/test_image.py runs the image
#
# env: IMAGE (default spacekeeper:dev), VERSION and SOURCE (the OCI labels; make
#      passes them), DEBIAN_MIRROR (for debootstrap), DOCKER_OPTIONAL=1 (CI: a
#      machine where no Docker engine can run skips, saying why, instead of failing)
#
# The engine: whichever answers on the default socket; else, as root with no
# socket yet, a dockerd started here (host networking only: no bridge, no
# iptables rules) and stopped on exit. The bases debian:bookworm and
# debian:bookworm-slim: pulled, else local images made here in the last
# week, else made from Debian's packages (debootstrap, docker import) and
# kept as local images.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
image=${IMAGE:-spacekeeper:dev}
version=${VERSION:?VERSION is the version spacekeeper --version prints}
source=${SOURCE:?SOURCE is the repository the image is built from}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
socket=/var/run/docker.sock
suite=bookworm

say() { echo "image: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- the engine ----

dockerd_pid=
dockerd_log=
scratch_dir= # debootstrap's tree, removed on exit

engine_stop() {
  [ -n "$dockerd_pid" ] || return 0
  say "stopping the dockerd started here (pid $dockerd_pid)"
  kill -TERM "$dockerd_pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 300; i++)); do # 30 s, then it is killed
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$dockerd_pid" 2>/dev/null || true
  wait "$dockerd_pid" 2>/dev/null || true
  dockerd_pid=
}

# On exit: what was made here goes; dockerd's log stays when something failed.
cleanup() {
  local rc=$?
  [ -z "$scratch_dir" ] || rm -rf "$scratch_dir" "$scratch_dir.log"
  engine_stop
  if [ -n "$dockerd_log" ]; then
    if [ "$rc" = 0 ]; then rm -f "$dockerd_log"; else say "dockerd's log: $dockerd_log"; fi
  fi
}

# Installs docker.io and debootstrap when missing and this is root.
packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ ${#missing[@]} -gt 0 ] || return 0
  if [ "$(id -u)" != 0 ]; then
    why="not installed: ${missing[*]} (apt-get install ${missing[*]}, as root)"
    return 1
  fi
  say "installing Debian packages: ${missing[*]}"
  if ! { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    why="apt-get install ${missing[*]} failed"
    return 1
  fi
}

# An engine that answers, or `why` says why there is none.
engine_start() {
  docker info >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || { why="no Docker engine answers on $socket, and only root may start dockerd"; return 1; }
  [ ! -e "$socket" ] || { why="$socket exists but no Docker engine answers on it"; return 1; }
  packages || return 1
  dockerd_log=$(mktemp /tmp/spacekeeper-dockerd.XXXXXX.log)
  say "no Docker engine is running: starting dockerd (log $dockerd_log)"
  dockerd --host "unix://$socket" --bridge=none --iptables=false --ip-masq=false >"$dockerd_log" 2>&1 &
  dockerd_pid=$!
  local i
  for ((i = 0; i < 600; i++)); do # 60 s
    docker info >/dev/null 2>&1 && return 0
    if ! kill -0 "$dockerd_pid" 2>/dev/null; then
      why="dockerd exited at start: $(tail -n 3 "$dockerd_log")"
      dockerd_pid=
      return 1
    fi
    sleep 0.1
  done
  why="dockerd did not answer within 60 s: $(tail -n 3 "$dockerd_log")"
  engine_stop
  return 1
}

# ---- the bases ----

have() { docker image inspect "$1" >/dev/null 2>&1; }

# What the official images carry besides the packages: deb822 sources with
# the security archive, and apt cleaning up after itself.
apt_config() { # root
  rm -f "$1/etc/apt/sources.list"
  cat >"$1/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$1/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/* "$1"/var/log/*.log \
    "$1"/var/log/apt/* "$1"/tmp/*
}

# The slim variant: no documentation, manuals or translations, now or from
# packages installed later (the official images' dpkg excludes).
slim() { # root
  cat >"$1/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  find "$1/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$1/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$1"/usr/share/{groff,info,linda,lintian/overrides,locale,man}/*
}

import() { # root, tag: replaces the tag's image, and drops the old one unless something is built on it
  local old
  old=$(docker image inspect -f '{{.Id}}' "$2" 2>/dev/null || true)
  tar -C "$1" --numeric-owner -c . | docker import --change 'CMD ["bash"]' - "$2" >/dev/null
  [ -z "$old" ] || docker rmi "$old" >/dev/null 2>&1 || true
  say "made $2 ($(size_mb "$2") MB)"
}

# Debian's point releases and security fixes reach the runtime only through
# its base, while the build stage links against the newest packages: a base
# that cannot be pulled is made again once it is a week old.
fresh() {
  local created
  created=$(docker image inspect -f '{{.Created}}' "$1" 2>/dev/null) || return 1
  [ $(($(date +%s) - $(date -d "$created" +%s))) -lt $((7 * 86400)) ]
}

bases() {
  local tag missing=()
  for tag in "debian:$suite" "debian:$suite-slim"; do
    docker pull -q "$tag" >/dev/null 2>&1 || fresh "$tag" || missing+=("$tag")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  command -v debootstrap >/dev/null || packages || die "cannot make ${missing[*]}: $why"
  say "${missing[*]}: none to pull here, none made here this week: making them from Debian's" \
    "packages (debootstrap --variant=minbase $suite, from $mirror); they stay as local images"
  local root
  root=$(mktemp -d /var/tmp/spacekeeper-debootstrap.XXXXXX)
  scratch_dir=$root
  debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.log" 2>&1 ||
    die "debootstrap failed: $(tail -n 5 "$root.log")"
  rm -f "$root.log"
  apt_config "$root"
  [[ " ${missing[*]} " != *" debian:$suite "* ]] || import "$root" "debian:$suite"
  slim "$root"
  [[ " ${missing[*]} " != *" debian:$suite-slim "* ]] || import "$root" "debian:$suite-slim"
}

# ---- the image ----

size_mb() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.1f", $1 / 1e6}'; }

docker_build() {
  docker build --network host --build-arg "VERSION=$version" --build-arg "SOURCE=$source" \
    --build-arg "REVISION=$(git -C "$top" rev-parse HEAD 2>/dev/null || echo unknown)" "$@" "$top"
}

build() {
  bases
  say "building $image (spacekeeper $version)"
  docker_build -t "$image"
  # Each build leaves its build stage (~500 MB) untagged: the newest stays,
  # tagged, as the next build's cache; older ones and replaced images go.
  docker_build -q --target build -t spacekeeper-build:cache >/dev/null
  local title
  for title in spacekeeper spacekeeper-build; do
    docker image prune -f --filter "label=org.opencontainers.image.title=$title" >/dev/null
  done
  local size base
  size=$(size_mb "$image")
  base=$(size_mb "debian:$suite-slim")
  say "$image: $size MB, of which $(awk "BEGIN {printf \"%.1f\", $size - $base}") MB on top of" \
    "debian:$suite-slim ($base MB)"
}

case "${1:-}" in
  build | test) ;;
  *) die "usage: scripts/image.sh build|test" ;;
esac
why=
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if ! engine_start; then
  [ "${DOCKER_OPTIONAL:-}" = 1 ] || die "no Docker engine: $why"
  say "skipped, no Docker engine can run here: $why"
  exit 0
fi
build
if [ "$1" = test ]; then
  /usr/bin/python3 "$top/test/image/test_image.py" "$image" "$version" "$source"
fi
