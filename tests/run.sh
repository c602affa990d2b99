#!/usr/bin/env bash
# Every gate the project holds itself to, in one command (the README's test command).
#
#   sudo tests/run.sh              all gates
#   sudo tests/run.sh unit lint    only the named gates
#
# Gates: testbed ruff lint sanity unit integration molecule docs
# Each runs even when an earlier one failed (except testbed); a summary with
# every gate's result and seconds closes the run, and the exit status is
# non-zero when any gate failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ALL_GATES=(testbed ruff lint sanity unit integration molecule docs)
if [ $# -gt 0 ]; then GATES=("$@"); else GATES=("${ALL_GATES[@]}"); fi

declare -a SUMMARY=()
PASSED=0
FAILED=0

banner() { printf '\n=== %s ===\n' "$*"; }

run_gate() {
  local name=$1 t0=$SECONDS rc
  shift
  banner "$name"
  "$@"
  rc=$?
  local secs=$((SECONDS - t0))
  if [ $rc -eq 0 ]; then
    SUMMARY+=("$(printf '%-12s pass %6ss' "$name" "$secs")")
    PASSED=$((PASSED + 1))
  else
    SUMMARY+=("$(printf '%-12s FAIL %6ss (exit %s)' "$name" "$secs" "$rc")")
    FAILED=$((FAILED + 1))
  fi
  return $rc
}

gate_testbed() {
  bash tests/testbed.sh up || return 1
  eval "$(bash tests/testbed.sh env)"
}

gate_ruff() {
  ruff check . && ruff format --check .
}

gate_lint() {
  ansible-lint --profile production
}

# ansible-test runs on the built collection, installed as ansible_collections/apim/selfhosted.
gate_sanity() {
  local ignores
  ignores=$(ls tests/sanity/ignore-*.txt 2>/dev/null)
  if [ -n "$ignores" ]; then
    echo "sanity ignore files are not allowed: $ignores"
    return 1
  fi
  local work="$APIM_TESTBED_HOME/sanity"
  rm -rf "$work"
  mkdir -p "$work"
  ansible-galaxy collection build --output-path "$work" . >/dev/null || return 1
  ansible-galaxy collection install --force --no-deps -p "$work/tree" "$work"/apim-selfhosted-*.tar.gz >/dev/null || return 1
  (cd "$work/tree/ansible_collections/apim/selfhosted" &&
    ansible-test sanity --venv --requirements --python 3.12 --color no 2>&1 | grep -vE 'is ignored|^Looking in|^Collecting|^  Downloading|^Requirement already|━━')
}

# pytest exits 5 when it collected nothing; a gate with no tests yet is not a failure.
run_pytest() {
  local dir=${*: -1}
  [ -d "$dir" ] || { echo "($dir does not exist yet)"; return 0; }
  pytest "$@"
  local rc=$?
  [ $rc -eq 5 ] && { echo "(no tests collected in $*)"; return 0; }
  return $rc
}

gate_unit() { run_pytest -q -p no:cacheprovider tests/unit; }

gate_integration() { run_pytest -q -p no:cacheprovider -n 3 --dist loadfile --durations 15 tests/integration; }

# The scenarios run side by side (their containers and fakes have names of their own, and each installs the
# collection into its own ephemeral directory): most of their time is waiting on containers, not CPU. Each one's
# output is kept in a file and printed whole when it ends.
gate_molecule() {
  local rc=0 scenario dir logs pids=() names=() starts=() i
  logs=$(mktemp -d /tmp/apim-molecule-logs.XXXXXX)
  for dir in molecule/*/; do
    scenario=$(basename "$dir")
    [ -f "$dir/molecule.yml" ] || continue
    # APIM_MOLECULE_SKIP="a b": scenarios to leave out of a local run (CI runs every one).
    [ "${CI-}" = true ] || case " ${APIM_MOLECULE_SKIP-} " in *" $scenario "*) echo "(molecule $scenario: skipped by APIM_MOLECULE_SKIP)"; continue ;; esac
    molecule test -s "$scenario" >"$logs/$scenario.log" 2>&1 </dev/null &
    pids+=($!) names+=("$scenario") starts+=("$SECONDS")
    echo "molecule: $scenario started (pid $!)"
  done
  for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then
      SUMMARY+=("$(printf '  %-10s pass %6ss' "${names[$i]}" "$((SECONDS - ${starts[$i]}))")")
    else
      SUMMARY+=("$(printf '  %-10s FAIL %6ss' "${names[$i]}" "$((SECONDS - ${starts[$i]}))")")
      rc=1
    fi
    banner "molecule: ${names[$i]}"
    cat "$logs/${names[$i]}.log"
  done
  rm -rf "$logs"
  return $rc
}

gate_docs() {
  [ -f changelogs/config.yaml ] && { antsibull-changelog lint || return 1; }
  local work="$APIM_TESTBED_HOME/docs"
  rm -rf "$work" && mkdir -p "$work"
  ansible-galaxy collection build --output-path "$work" . >/dev/null || return 1
  ansible-galaxy collection install --force --no-deps -p "$work/tree" "$work"/apim-selfhosted-*.tar.gz >/dev/null || return 1
  ANSIBLE_COLLECTIONS_PATH="$work/tree" antsibull-docs lint-collection-docs --plugin-docs \
    "$work/tree/ansible_collections/apim/selfhosted" || return 1
  # The rendered docsite (antsibull-docs sphinx-init, collection, sphinx-build), warnings are errors. Offline: no
  # intersphinx, and the two labels of the Ansible docs that generated pages link to get a stub page.
  local site="$work/site"
  mkdir -p "$site" && chmod 755 "$site"
  ANSIBLE_COLLECTIONS_PATH="$work/tree" antsibull-docs sphinx-init --use-current --fail-on-error \
    --dest-dir "$site" apim.selfhosted >/dev/null || return 1
  mkdir -p "$site/rst" && chmod 755 "$site/rst"
  ANSIBLE_COLLECTIONS_PATH="$work/tree" antsibull-docs --config-file "$site/antsibull-docs.cfg" collection \
    --cleanup everything --fail-on-error --use-current --dest-dir "$site/rst" apim.selfhosted >/dev/null || return 1
  echo "intersphinx_mapping = {}" >>"$site/conf.py"
  printf '%s\n' ':orphan:' '' '.. _common_return_values:' '.. _ansible_configuration_settings:' '' \
    'Ansible documentation' '=====================' '' \
    'Common return values and configuration settings: https://docs.ansible.com/ansible/latest/' \
    >"$site/rst/ansible-references.rst"
  sphinx-build -M html "$site/rst" "$site/build" -c "$site" -W --keep-going -q || return 1
  echo "rendered docs: $site/build/html/index.html"
}

T0=$SECONDS
for gate in "${GATES[@]}"; do
  if ! declare -F "gate_$gate" >/dev/null; then
    echo "unknown gate '$gate' (known: ${ALL_GATES[*]})"
    exit 2
  fi
  if [ "$gate" = testbed ]; then
    run_gate testbed gate_testbed || { echo "the test bed failed; nothing else can run"; break; }
    continue
  fi
  # Without the testbed gate (a partial run), still use its environment and this checkout's test kit.
  if [ -z "${VIRTUAL_ENV:-}" ]; then
    eval "$(bash tests/testbed.sh env)"
    bash tests/testbed.sh kit
  fi
  run_gate "$gate" "gate_$gate"
done

banner "summary ($((SECONDS - T0)) s)"
printf '%s\n' "${SUMMARY[@]}"
echo "gates: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
