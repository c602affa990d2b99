#!/usr/bin/env bash
# The lab: the collection's whole flow on one machine, with fakes for Azure and for the gateway image.
#
#   sudo lab/lab.sh up      test bed, fakes, edge hosts, then the playbooks, in order; ends with an API call
#                           through the gateway. Idempotent: a second run changes nothing and is quick.
#   sudo lab/lab.sh down    remove everything `up` started (containers, the fake ARM process, the state)
#
# What runs, as you would run it against your own site (lab/README.md explains each step):
#   1. tests/testbed.sh up                      Docker Engine, venv, images (idempotent)
#   2. python3 lab/lab.py up                    fake ARM + Entra (process on 127.0.0.1:18443), the
#                                               Configuration API fake + a backend, two edge hosts
#   3. ansible-playbook apim.selfhosted.rbac    roles and assignments for Entra-authenticated gateways
#   4. ansible-playbook lab/playbooks/gateway_resource.yml   gateway resource + access token
#   5. ansible-playbook lab/playbooks/prepare.yml            the site's CA on the edge hosts
#   6. ansible-playbook apim.selfhosted.deploy  Docker Engine + the gateway, gated on its status path
#   7. ansible-playbook lab/playbooks/gateway_config.yml     the API it serves, its certificate and hostname
#   8. ansible-playbook apim.selfhosted.status  tag, readiness, token days left, proof, backup, peers
#   9. curl through the gateway, over HTTP and over HTTPS for the configured hostname
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { printf 'lab: %s\n' "$*" >&2; exit 1; }

TOTAL_CHANGED=0
STEP=0

# Run one playbook as a user would; print the command, keep its output, add up its "changed" counts.
playbook() {
  local title=$1 log rc changed t0=$SECONDS
  shift
  STEP=$((STEP + 1))
  say "$title"
  echo "\$ ansible-playbook -i lab/inventory/hosts.yml $*"
  log="$LAB_STATE_DIR/logs/$(printf '%02d' "$STEP")-$(basename "${1%.yml}").log"
  set +e
  ansible-playbook -i lab/inventory/hosts.yml "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" -eq 0 ] || die "the playbook failed (exit $rc); its output is in $log"
  changed=$(grep -E '^[^ ]+ +: ok=[0-9]+ +changed=[0-9]+' "$log" | sed -E 's/.* changed=([0-9]+).*/\1/' |
    awk '{s += $1} END {print s + 0}')
  TOTAL_CHANGED=$((TOTAL_CHANGED + changed))
  echo "($((SECONDS - t0)) s, changed=$changed)"
}

up() {
  local t0=$SECONDS
  [ "$(id -u)" = 0 ] || die "the lab needs root (Docker, the test bed); run: sudo lab/lab.sh up"
  say "Test bed (Docker Engine, Python venv with Ansible, images)"
  bash tests/testbed.sh up
  eval "$(bash tests/testbed.sh env)"

  say "Fakes and edge hosts"
  python3 lab/lab.py up
  # The Azure credential, under the names an AWX/AAP Azure credential injects, and LAB_STATE_DIR.
  eval "$(python3 lab/lab.py env)"
  mkdir -p "$LAB_STATE_DIR/logs"
  export ANSIBLE_CONFIG="$ROOT/lab/ansible.cfg"
  local token="$LAB_STATE_DIR/secrets/gateway-token.yml"

  playbook "Azure RBAC for Entra-authenticated gateways (against the fake ARM)" apim.selfhosted.rbac
  playbook "Gateway resource and access token (against the fake ARM)" lab/playbooks/gateway_resource.yml
  playbook "Edge hosts: the site's CA" lab/playbooks/prepare.yml
  # Both lab hosts in one batch (apim_serial; the playbook's default, 1, takes one host at a time).
  playbook "Deploy: Docker Engine and the gateway" apim.selfhosted.deploy -e "@$token" -e apim_serial=2
  playbook "What the gateway serves: API, certificate, hostname (against the fake ARM)" \
    lab/playbooks/gateway_config.yml -e "@$LAB_STATE_DIR/secrets/edge-certificate.yml"
  playbook "Status" apim.selfhosted.status

  say "Where the gateway answers"
  python3 lab/lab.py show
  say "lab up: done in $((SECONDS - t0)) s, changed=$TOTAL_CHANGED"
  echo "Playbook logs: $LAB_STATE_DIR/logs/. Run it again: nothing changes. Remove it: sudo lab/lab.sh down"
}

down() {
  [ "$(id -u)" = 0 ] || die "the lab needs root; run: sudo lab/lab.sh down"
  if [ -x "${APIM_TESTBED_HOME:-/var/lib/apim-testbed}/venv/bin/python3" ]; then
    bash tests/testbed.sh kit  # lab.py imports the test kit: this checkout's again if another was installed since `up`
    eval "$(bash tests/testbed.sh env)"
  fi
  python3 lab/lab.py down
  python3 lab/lab.py check
}

# One lab per machine: a second lab.sh waits for the first (the lock is on this file, so nothing is left behind).
# flock(1) holds the lock and runs this script again with the lock's descriptor closed (-o): nothing the lab starts
# (the Docker engine on a fresh machine, the fake ARM) inherits it, so the lock ends with this run.
# LAB_LOCKED=1: the caller holds that lock already (tests/integration/lab holds it across up, up and down).
if [ -z "${LAB_LOCKED:-}" ]; then
  LAB_LOCKED=1 exec flock -o "$ROOT/lab/lab.sh" bash "$ROOT/lab/lab.sh" "$@"
fi

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
