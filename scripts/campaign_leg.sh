#!/usr/bin/env bash
# One leg of the paper-scale campaign on another machine (a GPU box, say), and its return home.
#
#   On the other machine, in a copy of this repository that holds the queue's run directories
#   (runs/<profile>/<name>-<hash>/) and finds the datasets (HYPERNAS_DATA, HYPERNAS_OFFLINE_DIRS):
#     HYPERNAS_COMMIT=<commit> scripts/campaign_leg.sh run SECONDS OUT [campaign options]
#   runs the queue there (`hypernas campaign run`, on cuda unless --device says otherwise) for at
#   most SECONDS, stops it cleanly after a checkpoint and packs what it made into OUT/leg.tar.gz:
#   the run directories and the results it finished.
#
#   Back home, with the local campaign stopped:
#     scripts/campaign_leg.sh unpack OUT/leg.tar.gz
#   puts them in place; `make paper` then goes on where the leg stopped.
#
# The local campaign must stay stopped from the moment its run directories are copied away until
# the leg is unpacked: the leg's checkpoints replace the local ones. Every search segment records
# its commit and hardware, so a result made partly on the other machine says so.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && PY=${PYTHON:-.venv/bin/python}

usage() {
    echo "usage: $0 run SECONDS OUT [campaign options] | $0 unpack ARCHIVE" >&2
    exit 2
}

run_leg() {
    local seconds=$1 out=$2
    shift 2
    [[ $seconds =~ ^[0-9]+$ ]] || { echo "SECONDS must be a whole number, got '$seconds'" >&2; exit 2; }
    if [ -z "${HYPERNAS_COMMIT:-}" ]; then
        HYPERNAS_COMMIT=$("$PY" -c 'from hypernas.provenance import git_commit; print(git_commit())')
        export HYPERNAS_COMMIT
    fi
    [[ $HYPERNAS_COMMIT == unknown ]] && {
        echo "no git here: set HYPERNAS_COMMIT to the commit this copy was made from" >&2
        exit 2
    }
    local args=("$@")
    [[ " ${args[*]} " == *" --device "* ]] || args+=(--device cuda)
    mkdir -p "$out"
    local profile=paper
    for ((i = 0; i < ${#args[@]}; i++)); do
        case ${args[$i]} in
            --profile) profile=${args[$((i + 1))]} ;;
            --runs-dir | --results-dir)
                echo "the leg packs runs/<profile> and results/<profile>: leave ${args[$i]} out" >&2
                exit 2
                ;;
        esac
    done
    local since="$out/.leg-start"
    touch "$since"
    echo "leg: commit $HYPERNAS_COMMIT, ${seconds}s, hypernas campaign run ${args[*]}"
    PYTHONUNBUFFERED=1 "$PY" -m hypernas campaign run "${args[@]}" &
    local pid=$!
    # SIGTERM at the deadline: each worker stops after its next checkpoint and the supervisor exits.
    (sleep "$seconds" && kill -TERM "$pid" 2>/dev/null) &
    local timer=$!
    local status=0
    wait "$pid" || status=$?
    kill "$timer" 2>/dev/null || true
    "$PY" -m hypernas campaign status "${args[@]}" || true
    local made=()  # what this leg changed: run directories and results
    for d in runs/"$profile"/*-*/; do
        [ -f "$d/config.json" ] && [ -n "$(find "$d" -newer "$since" -print -quit)" ] && made+=("${d%/}")
    done
    local n_dirs=${#made[@]}
    [ -d results/"$profile" ] && while IFS= read -r f; do made+=("$f"); done < <(
        find results/"$profile" -maxdepth 1 -name '*.json' -newer "$since"
    )
    rm -f "$since"
    if [ ${#made[@]} -eq 0 ]; then
        echo "leg: nothing changed, nothing to pack" >&2
        return "$status"
    fi
    tar czf "$out/leg.tar.gz" "${made[@]}"
    echo "leg: packed $n_dirs run directories and $((${#made[@]} - n_dirs)) results into $out/leg.tar.gz"
    return "$status"
}

unpack_leg() {
    local archive=$1
    [ -f "$archive" ] || { echo "no such archive: $archive" >&2; exit 2; }
    if "$PY" -m hypernas campaign status 2>/dev/null | grep -q '^campaign: running'; then
        echo "the local campaign is running; stop it first (make paper-stop)" >&2
        exit 2
    fi
    tar xzf "$archive"
    echo "unpacked $(tar tzf "$archive" | grep -c '/checkpoint.pt$') checkpoints and" \
        "$(tar tzf "$archive" | grep -c '^results/') results; \`make paper\` resumes the queue"
}

case "${1:-}" in
    run) [ $# -ge 3 ] || usage; shift; run_leg "$@" ;;
    unpack) [ $# -eq 2 ] || usage; unpack_leg "$2" ;;
    *) usage ;;
esac
