#!/usr/bin/env bash
# Runs every test of shepherd.fleet, printing how long each stage took:
#   setup, yamllint, ansible-lint (production profile), ansible-test sanity, unit tests,
#   integration tests (modules through ansible-playbook, the shepherd CLI), every Molecule scenario.
# Usage: scripts/test.sh [STAGE...]   (default: all stages, the static checks running beside the unit and
#                                     integration tests; e.g. `scripts/test.sh unit molecule` runs just those)
# Environment: SHEPHERD_MOLECULE_JOBS (scenarios run side by side, default 2),
#              SHEPHERD_SCENARIOS (space-separated scenario names, default every scenario in molecule/).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
repo=$(pwd)
export PATH="$repo/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$repo/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$repo/.cache/collections"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1
logs=.cache/logs
mkdir -p "$logs"

declare -a results=()
passed=0 failed=0

record_result() {  # name, seconds, ok|FAILED
    results+=("$(printf '%-14s %6ss  %s' "$1" "$2" "$3")")
    if [ "$3" = ok ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

run_stage() {  # name, command...
    local name=$1; shift
    local started=$SECONDS verdict=ok
    printf '\n===== %s\n' "$name"
    "$@" || verdict=FAILED
    record_result "$name" $((SECONDS - started)) "$verdict"
}

stage_setup() { scripts/setup.sh; }
stage_yamllint() { yamllint --strict .; }
stage_ansible_lint() { ansible-lint --profile production --offline; }
stage_sanity() { scripts/sanity.sh; }
# pytest over a folder of tests; a folder with no tests yet is not a failure.
run_pytest() {
    if [ -z "$(find "$1" -name 'test_*.py' 2>/dev/null | head -1)" ]; then echo "no tests in $1 yet"; return 0; fi
    pytest -q "$1"
}
stage_unit() { run_pytest tests/unit; }
stage_integration() { run_pytest tests/integration; }
stage_molecule() { scripts/molecule-all.sh; }

# Runs each chain of stages ("yamllint ansible_lint sanity") in the background, the chains side by side:
# each of these stages keeps one core busy, so two chains use both. Outputs are printed afterwards, in order.
run_chains() {  # chain...
    local chain stage i=0
    for chain in "$@"; do
        : >"$logs/chain-$i.results"
        (
            for stage in $chain; do
                started=$SECONDS
                if "stage_$stage" >"$logs/stage-$stage.log" 2>&1; then verdict=ok; else verdict=FAILED; fi
                echo "$stage $((SECONDS - started)) $verdict" >>"$logs/chain-$i.results"
            done
        ) &
        i=$((i + 1))
    done
    wait
    for chain in "$@"; do
        for stage in $chain; do
            printf '\n===== %s\n' "${stage//_/-}"
            cat "$logs/stage-$stage.log"
        done
    done
    local name seconds verdict
    while read -r name seconds verdict; do
        record_result "${name//_/-}" "$seconds" "$verdict"
    done < <(cat "$logs"/chain-*.results)
    rm -f "$logs"/chain-*.results
}

stages=("$@")
total_started=$SECONDS
if [ ${#stages[@]} -eq 0 ]; then
    # Everything: setup, then the static checks beside the unit and integration tests, then Molecule.
    run_stage setup stage_setup
    if [ $failed -eq 0 ]; then
        run_chains "yamllint ansible_lint sanity" "unit integration"
        run_stage molecule stage_molecule
    fi
fi
for stage in "${stages[@]}"; do
    if [ "$stage" != setup ] && [ ! -x .venv/bin/ansible ]; then
        echo "no .venv: run scripts/setup.sh first"; exit 2
    fi
    run_stage "${stage//_/-}" "stage_$stage"
    if [ "$stage" = setup ] && [ $failed -gt 0 ]; then break; fi
done

printf '\n===== summary (seconds per stage, %s cores)\n' "$(nproc)"
printf '%s\n' "${results[@]}"
printf '%-14s %6ss\n' total $((SECONDS - total_started))
echo "stages: $passed passed, $failed failed"
[ $failed -eq 0 ]
