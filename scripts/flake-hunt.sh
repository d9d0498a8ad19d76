#!/usr/bin/env bash
# Runs test suites again and again on a busy machine and prints, per test, how often it failed.
#
#   bash scripts/flake-hunt.sh [-n RUNS] [PACKAGE…]     e.g.  bash scripts/flake-hunt.sh -n 5 ipmi ssh
#
# PACKAGE is a directory name under packages/ or apps/ (default: every one with a `test` script).
# Each run executes every named package's whole vitest suite (unit and lab projects), one package
# at a time, as `pnpm test` does. Meanwhile a background load keeps one of the machine's cores
# busy: one `node` busy loop, started here, killed when this script exits (also on Ctrl-C), and in
# any case by `timeout` after MAX_LOAD_SECONDS. A test that passes only on an idle machine fails
# here. Exit status: 0 when no test failed in any run.
#
# Needs what the README's test command installs (run `bash scripts/test.sh` once first).
set -euo pipefail

RUNS=5
MAX_LOAD_SECONDS=${MAX_LOAD_SECONDS:-21600}
while getopts 'n:' opt; do
  case "$opt" in
    n) RUNS=$OPTARG ;;
    *) echo "usage: $0 [-n RUNS] [PACKAGE…]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a positive whole number, not '$RUNS'" >&2; exit 2; }

cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=("$@")
if ((${#packages[@]} == 0)); then
  for dir in packages/* apps/*; do
    [[ -f "$dir/package.json" ]] || continue
    node -e 'process.exit(require(process.argv[1]).scripts?.test ? 0 : 1)' "$PWD/$dir/package.json" &&
      packages+=("$(basename "$dir")")
  done
fi
dirs=()
for name in "${packages[@]}"; do
  if [[ -d "packages/$name" ]]; then dirs+=("packages/$name")
  elif [[ -d "apps/$name" ]]; then dirs+=("apps/$name")
  else echo "no package directory packages/$name or apps/$name" >&2; exit 2
  fi
done

out=$(mktemp -d /tmp/vlab-flake-hunt.XXXXXX)
load_pid=''
stop_load() {
  if [[ -n "$load_pid" ]]; then kill "$load_pid" 2>/dev/null || true; wait "$load_pid" 2>/dev/null || true; fi
}
trap stop_load EXIT
trap 'exit 130' INT TERM

echo "flake hunt: ${RUNS} run(s) of ${packages[*]}; reports in $out"
pnpm run build >"$out/build.log" 2>&1 || { cat "$out/build.log" >&2; exit 1; }

# The load: one core kept busy for the whole hunt (2-core machines are what CI runs on).
timeout "$MAX_LOAD_SECONDS" node -e 'for (;;) {}' &
load_pid=$!
echo "background load: node busy loop, pid $load_pid (one core)"

started=$SECONDS
for ((run = 1; run <= RUNS; run++)); do
  for dir in "${dirs[@]}"; do
    name=$(basename "$dir")
    report="$out/run-$run-$name.json"
    printf '== run %d/%d: %s\n' "$run" "$RUNS" "$name"
    # A failing run is what we are counting: never stop the hunt on it.
    (cd "$dir" && npx vitest run --reporter=dot --reporter=json --outputFile.json="$report") \
      >"$out/run-$run-$name.log" 2>&1 || true
    [[ -s "$report" ]] || echo "   (no report: see $out/run-$run-$name.log)"
  done
done
stop_load
load_pid=''
echo "flake hunt took $(((SECONDS - started) / 60)) min"

npx tsx scripts/flake-report.ts "$RUNS" "$out" "${packages[@]}"
