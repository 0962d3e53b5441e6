#!/usr/bin/env bash
# Runs every Molecule scenario (molecule/*/molecule.yml) as its own `molecule test` process,
# SHEPHERD_MOLECULE_JOBS at a time (default 2), each logging to .cache/logs/molecule-NAME.log.
# Scenario, container and network names are unique per scenario, so side-by-side runs never collide.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
jobs=${SHEPHERD_MOLECULE_JOBS:-2}
logs=.cache/logs
mkdir -p "$logs"
if [ -n "${SHEPHERD_SCENARIOS:-}" ]; then
    read -r -a scenarios <<<"$SHEPHERD_SCENARIOS"
else
    mapfile -t scenarios < <(for f in molecule/*/molecule.yml; do basename "$(dirname "$f")"; done)
    # Scenarios listed in molecule/ON_REQUEST run only when named; say which and why.
    if [ -f molecule/ON_REQUEST ]; then
        mapfile -t on_request < <(grep -v '^#' molecule/ON_REQUEST | awk 'NF {print $1}')
        grep -v '^#' molecule/ON_REQUEST | awk 'NF {print "not run (on request only): " $0}'
        if [ ${#on_request[@]} -gt 0 ]; then  # (an empty pattern list would make grep -v drop every scenario)
            mapfile -t scenarios < <(printf '%s\n' "${scenarios[@]}" | grep -vxF -f <(printf '%s\n' "${on_request[@]}"))
        fi
    fi
fi
# Longest scenarios first (the names listed in molecule/ORDER), so a slow one never starts last.
if [ -f molecule/ORDER ]; then
    mapfile -t scenarios < <(printf '%s\n' "${scenarios[@]}" | awk 'NR==FNR {rank[$1]=NR; next} {print (($1 in rank) ? rank[$1] : 999), $1}' molecule/ORDER - | sort -n | cut -d' ' -f2)
fi
echo "scenarios (${#scenarios[@]}, $jobs at a time): ${scenarios[*]}"

# A scenario that hangs is stopped after SHEPHERD_SCENARIO_TIMEOUT seconds (default 40 min) and fails with
# its log's tail, instead of running into CI's own limit with nothing said.
scenario_timeout=${SHEPHERD_SCENARIO_TIMEOUT:-2400}
run_one() {
    local name=$1 started=$SECONDS
    if timeout -k 30 "$scenario_timeout" molecule test -s "$name" >"$logs/molecule-$name.log" 2>&1; then
        echo "PASS $name ($((SECONDS - started)) s)"
    else
        echo "FAIL $name ($((SECONDS - started)) s)"
        return 1
    fi
}
export -f run_one
export logs scenario_timeout
# Each result is printed as soon as its scenario ends, so a run stopped from outside still shows what finished.
printf '%s\n' "${scenarios[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} | tee "$logs/molecule-summary.txt"
status=${PIPESTATUS[1]}
awk '/^FAIL/ {print $2}' "$logs/molecule-summary.txt" | while read -r name; do
    echo "----- last lines of $logs/molecule-$name.log"
    tail -n 80 "$logs/molecule-$name.log"
done
pass=$(grep -c '^PASS' "$logs/molecule-summary.txt")
fail=$(grep -c '^FAIL' "$logs/molecule-summary.txt")
echo "molecule: $pass passed, $fail failed"
[ "$status" -eq 0 ] && [ "$fail" -eq 0 ]
