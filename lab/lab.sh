#!/usr/bin/env bash
# The lab: the whole flow on one machine, no Azure.
#   sudo lab/lab.sh up     prepare the test bed and run the lab
#   sudo lab/lab.sh down   remove what the lab started
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "${1:-up}" in
  up)
    bash "$ROOT/tests/testbed.sh" up
    echo "The test bed is ready. The lab playbooks (fake ARM, Configuration API fake, edge hosts,"
    echo "rbac -> gateway token -> deploy -> status) are being built; see README.md."
    ;;
  down)
    docker ps -aq --filter label=io.apim.lab | xargs -r docker rm -f -v
    ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
