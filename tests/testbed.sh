#!/usr/bin/env bash
# The test bed: everything the tests and the lab need on a fresh Debian host,
# installed and started by this one script. Safe to run again: a second run
# with nothing changed rebuilds nothing.
#
#   tests/testbed.sh            install, start, build (default)
#   tests/testbed.sh env        print the environment to `eval` in a shell
#   tests/testbed.sh images     (re)build images only when their inputs changed
#   tests/testbed.sh engine     start the Docker engine only (when it does not answer)
#   tests/testbed.sh kit        install the test kit (tests/fixtures) from this checkout when the venv has another's
#
# State lives outside the checkout so that fresh clones reuse it:
#   APIM_TESTBED_HOME (default /var/lib/apim-testbed)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOME_DIR=${APIM_TESTBED_HOME:-/var/lib/apim-testbed}
FIXTURES="$ROOT/tests/fixtures"
REQ_TEST="$ROOT/tests/requirements-test.txt"
BASE_IMAGE=apim-testbed/debian:bookworm
EDGE_IMAGE=apim-testbed/edgehost:bookworm
NET_IMAGE=apim-testbed/netfixtures:bookworm
SIM_REPO=${APIM_SIM_REPO:-apim-testbed/gateway-sim}  # another name keeps a changed simulator apart
SIM_TAGS=${APIM_SIM_TAGS:-"2.12.3 2.12.4"}
TEST_NETWORK=apim-testnet
HASH_LABEL=io.apim.testbed.hash

log() { printf '[testbed %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "the test bed needs root (apt, dockerd, debootstrap); run it with sudo"
}

# --- 1. packages -------------------------------------------------------------
# openjdk-17-jre-headless: ansible-rulebook (Event-Driven Ansible) runs its rule engine on Java 17.
APT_PACKAGES=(docker.io debootstrap iptables ca-certificates git openjdk-17-jre-headless)

install_packages() {
  local missing=()
  local p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

pick_python() {
  local c
  for c in python3.12 /root/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12 python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys, venv; assert sys.version_info >= (3, 11)' 2>/dev/null; then
      command -v "$c"
      return 0
    fi
  done
  die "no Python 3.11+ found (python3.12 preferred)"
}

venv_dir() { echo "$HOME_DIR/venv"; }

setup_venv() {
  local py venv want have
  venv=$(venv_dir)
  want=$(cat "$REQ_TEST" "$ROOT/requirements.txt" | sha256sum | cut -c1-16)
  have=$(cat "$venv/.req-hash" 2>/dev/null || true)
  if [ -x "$venv/bin/python" ] && [ "$want" = "$have" ]; then
    return 0
  fi
  py=$(pick_python)
  log "venv: creating $venv with $($py --version 2>&1)"
  rm -rf "$venv"
  mkdir -p "$HOME_DIR"
  "$py" -m venv "$venv"
  # This machine's pip config names local indexes that may be absent; say so once, not per package.
  "$venv/bin/pip" install -q --upgrade pip 2> >(grep -v 'is ignored' >&2)
  "$venv/bin/pip" install -q -r "$REQ_TEST" -r "$ROOT/requirements.txt" 2> >(grep -v 'is ignored' >&2)
  echo "$want" > "$venv/.req-hash"
}

# The test kit (tests/fixtures as the package apim_testkit) is installed editable from this checkout. The venv is
# shared by every checkout on the machine (CI's fresh clone, developers' trees): when the kit it imports is not this
# checkout's (or none), install it again; an editable install without dependencies takes seconds.
# APIM_REPO_ROOT unset: the kit refuses to be imported in a shell set up for another checkout (tests/fixtures/__init__.py).
kit_path() {
  env -u APIM_REPO_ROOT "$(venv_dir)/bin/python" -I -c \
    'import apim_testkit, os; print(os.path.realpath(os.path.dirname(apim_testkit.__file__)))' 2>/dev/null || true
}

install_kit() {
  local want
  want=$(realpath "$FIXTURES")
  [ "$(kit_path)" = "$want" ] && return 0
  need_root
  log "venv: installing the test kit apim_testkit from $want"
  # -qq: setuptools warns about editable installs in general on every install.
  "$(venv_dir)/bin/pip" install -qq --no-deps -e "$FIXTURES"
  [ "$(kit_path)" = "$want" ] || die "the venv does not import apim_testkit from $want after installing it"
}

# The collection is found through a tree that links to this checkout.
link_collection() {
  local tree="$HOME_DIR/collections/ansible_collections/apim"
  mkdir -p "$tree"
  if [ "$(readlink "$tree/selfhosted" 2>/dev/null)" != "$ROOT" ]; then
    ln -sfn "$ROOT" "$tree/selfhosted"
  fi
}

# ansible-test bootstraps pip in its sanity venvs with a script it downloads from a host
# that is unreachable here; this stand-in bootstraps pip from the interpreter's own
# ensurepip, then runs pip with ansible-test's arguments (packages still come from PyPI).
ansible_test_pip_shim() {
  local site ver cache
  site=$("$(venv_dir)/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')
  ver=$(sed -n "s/^ *pip='\([0-9.]*\)',.*/\1/p" "$site/_internal/python_requirements.py" | head -1)
  [ -n "$ver" ] || return 0
  cache="$HOME/.ansible/test/cache/get_pip_${ver//./_}.py"
  [ -s "$cache" ] && return 0
  mkdir -p "$(dirname "$cache")"
  cat > "$cache" <<'PY'
import runpy
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], stdout=subprocess.DEVNULL)
# get-pip takes bare install arguments plus its own --no-setuptools/--no-wheel flags.
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.argv = ["pip", "install", *args]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
PY
}

# ansible-rulebook finds the JVM through JAVA_HOME; pin it to Java 17 when other JDKs are installed too.
java_home() {
  local d
  for d in /usr/lib/jvm/java-17-openjdk-*; do
    [ -x "$d/bin/java" ] && { echo "$d"; return 0; }
  done
  return 0
}

print_env() {
  local venv jhome
  venv=$(venv_dir)
  jhome=$(java_home)
  [ -n "$jhome" ] && echo "export JAVA_HOME='$jhome'"
  cat <<EOF
export APIM_TESTBED_HOME='$HOME_DIR'
export APIM_REPO_ROOT='$ROOT'
export VIRTUAL_ENV='$venv'
export PATH='$venv/bin':"\$PATH"
export ANSIBLE_COLLECTIONS_PATH='$HOME_DIR/collections'
export ANSIBLE_ROLES_PATH='$ROOT/roles'
export APIM_TEST_NETWORK='$TEST_NETWORK'
export APIM_EDGE_IMAGE='$EDGE_IMAGE'
export APIM_NET_IMAGE='$NET_IMAGE'
export APIM_SIM_IMAGE='$SIM_REPO'
export APIM_SIM_TAGS='$SIM_TAGS'
export APIM_IMAGE_CACHE='$HOME_DIR/images'
EOF
}

# --- 2. the Docker engine --------------------------------------------------------
# Start a daemon that outlives this script: its own session, stdin from /dev/null, output to LOG, and none of the
# caller's descriptors above 2. An inherited descriptor would keep a caller's lock held for the daemon's whole life
# (`flock FILE lab/lab.sh up`: every later lab run would then wait forever).
start_daemon() {
  local log=$1
  shift
  (
    local fd
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-"; fi
    done
    exec setsid "$@" </dev/null >>"$log" 2>&1
  ) &
}

start_docker() {
  if docker info >/dev/null 2>&1; then
    return 0
  fi
  log "docker: starting the engine"
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl start docker || true
  fi
  if ! docker info >/dev/null 2>&1; then
    local dockerd
    dockerd=$(command -v dockerd || echo /usr/sbin/dockerd)
    start_daemon /var/log/apim-testbed-dockerd.log "$dockerd"
  fi
  local i
  for i in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  tail -20 /var/log/apim-testbed-dockerd.log >&2 || true
  die "the Docker engine did not answer within 60 s"
}

ensure_network() {
  docker network inspect "$TEST_NETWORK" >/dev/null 2>&1 ||
    docker network create --driver bridge "$TEST_NETWORK" >/dev/null
}

# --- 3. images, rebuilt only when their inputs change ------------------------
image_hash() { docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true; }

debian_mirror() {
  local uri=""
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^(https?|file):/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || die "cannot find the Debian mirror in the apt sources"
  echo "$uri"
}

build_base() {
  local mirror want rootfs
  mirror=$(debian_mirror)
  want=$( (echo "bookworm minbase python3 $mirror v1") | sha256sum | cut -c1-16)
  [ "$(image_hash "$BASE_IMAGE")" = "$want" ] && return 0
  log "image: $BASE_IMAGE from debootstrap ($mirror)"
  rootfs=$(mktemp -d /var/tmp/apim-rootfs.XXXXXX)
  debootstrap --variant=minbase --include=python3,ca-certificates bookworm "$rootfs" "$mirror" >/var/tmp/apim-debootstrap.log 2>&1 ||
    { tail -20 /var/tmp/apim-debootstrap.log >&2; die "debootstrap failed"; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import \
    --change "LABEL $HASH_LABEL=$want" \
    --change 'CMD ["/bin/bash"]' \
    --change 'ENV LANG=C.UTF-8' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

# Build DIR as IMAGE when the hash of DIR (plus the base image) changed.
build_dir() {
  local image=$1 dir=$2 want
  want=$( (cd "$dir" && find . -type f ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum; image_hash "$BASE_IMAGE") | sha256sum | cut -c1-16)
  shift 2
  [ "$(image_hash "$image")" = "$want" ] && return 1
  log "image: building $image"
  docker build -q --label "$HASH_LABEL=$want" "$@" -t "$image" "$dir" >/dev/null
  return 0
}

build_images() {
  build_base
  build_dir "$EDGE_IMAGE" "$FIXTURES/edgehost" || true
  build_dir "$NET_IMAGE" "$FIXTURES/netfixtures" || true
  if [ -f "$FIXTURES/gateway_sim/Dockerfile" ]; then
    local tag rebuilt=0
    for tag in $SIM_TAGS; do
      build_dir "$SIM_REPO:$tag" "$FIXTURES/gateway_sim" --build-arg "SIM_VERSION=$tag" && rebuilt=1
    done
    save_tarballs "$rebuilt"
  fi
}

# Tarballs of the simulator images, as an air-gapped site would receive them.
save_tarballs() {
  local rebuilt=$1 tag out
  mkdir -p "$HOME_DIR/images"
  for tag in $SIM_TAGS; do
    out="$HOME_DIR/images/gateway-sim-$tag.tar"
    if [ "$rebuilt" = 1 ] || [ ! -s "$out" ]; then
      docker save -o "$out.tmp" "$SIM_REPO:$tag" && mv "$out.tmp" "$out"
    fi
  done
}

main() {
  local cmd=${1:-up}
  case "$cmd" in
    env) print_env; return 0 ;;
    up|"")
      need_root
      local t0=$SECONDS
      install_packages
      setup_venv
      install_kit
      link_collection
      ansible_test_pip_shim
      start_docker
      ensure_network
      build_images
      log "ready in $((SECONDS - t0)) s"
      ;;
    images) need_root; start_docker; build_images ;;
    engine) need_root; start_docker ;;
    kit) install_kit ;;
    *) die "unknown command '$cmd' (use: up, env, images, engine, kit)" ;;
  esac
}

main "$@"
