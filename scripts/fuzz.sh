#!/usr/bin/env bash
# libFuzzer targets (tests/fuzz/): builds them with clang in build-fuzz/ and runs each one.
#
#   scripts/fuzz.sh --smoke SECONDS [TARGET...]     CI: replay the in-tree corpus (seeds and every
#                                                   crash found so far), then fuzz SECONDS per target
#   scripts/fuzz.sh --campaign SECONDS [TARGET...]  a long run, all targets in parallel at nice 19,
#                                                   growing build-fuzz/corpus/TARGET; prints execs
#                                                   (R1VK_FUZZ_RUNS=N: a target stops after N
#                                                   executions if that comes before SECONDS;
#                                                   R1VK_FUZZ_MAX_LEN=N: inputs up to N bytes, 65536
#                                                   by default, for a campaign on a tight clock)
#
# Targets: safetensors safetensors_index config tokenizer_json tokenize chat_template reasoning_splitter
# (all when none named). A crash leaves build-fuzz/artifacts/TARGET-crash-*; copy it into
# tests/fuzz/corpus/TARGET/ as a regression input once fixed (see tests/fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true  # the cache serves clones in any folder
MODE=${1:?--smoke SECONDS or --campaign SECONDS}
SECS=${2:?seconds}
shift 2
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then
  TARGETS=(safetensors safetensors_index config tokenizer_json tokenize chat_template reasoning_splitter)
fi
B=${R1VK_FUZZ_BUILD_DIR:-build-fuzz}
if [[ ! -f "$B/build.ninja" ]]; then
  cmake -S . -B "$B" -G Ninja -DR1VK_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" >/dev/null
fi
cmake --build "$B" --target "${TARGETS[@]/#/fuzz_}" -- -j"${R1VK_JOBS:-$(nproc)}"
mkdir -p "$B/artifacts"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# -timeout: one input taking more than 10 s is a hang (reported like a crash; R1VK_FUZZ_TIMEOUT=120 for
# campaigns on a loaded machine, where a starved process trips 10 s of wall time); -rss_limit_mb: a
# blow-up (e.g. an exponential template) too.
FLAGS=(-timeout=${R1VK_FUZZ_TIMEOUT:-10} -rss_limit_mb=2048 -max_len=${R1VK_FUZZ_MAX_LEN:-65536} -print_final_stats=1)
if [[ -n "${R1VK_FUZZ_RUNS:-}" ]]; then FLAGS+=(-runs="$R1VK_FUZZ_RUNS"); fi

run_one() {
  local t=$1 secs=$2 work=$3
  mkdir -p "$work"
  # New inputs go to the first directory; the in-tree corpus is read (and so replayed) but not written.
  "$B/tests/fuzz/fuzz_$t" "${FLAGS[@]}" -max_total_time="$secs" -artifact_prefix="$B/artifacts/$t-" \
    "$work" "tests/fuzz/corpus/$t"
}

status=0
if [[ "$MODE" == "--smoke" ]]; then
  for t in "${TARGETS[@]}"; do
    start=$(date +%s)
    log="$B/smoke-$t.log"
    if run_one "$t" "$SECS" "$(mktemp -d)" >"$log" 2>&1; then
      execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
      echo "fuzz smoke $t: ok, $execs executions in $(( $(date +%s) - start )) s"
    else
      echo "fuzz smoke $t: FAILED (log $log)"; tail -n 60 "$log"; status=1
    fi
  done
elif [[ "$MODE" == "--campaign" ]]; then
  pids=()
  for t in "${TARGETS[@]}"; do
    nice -n 19 bash -c "$(declare -f run_one); B=$B; FLAGS=(${FLAGS[*]}); run_one $t $SECS $B/corpus/$t" \
      >"$B/campaign-$t.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || { echo "campaign ${TARGETS[$i]}: crash (see $B/campaign-${TARGETS[$i]}.log)"; status=1; }; done
  for t in "${TARGETS[@]}"; do
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$B/campaign-$t.log" | grep -o '[0-9]*$' || echo "?")
    echo "campaign $t: $execs executions, corpus $(ls "$B/corpus/$t" | wc -l) files"
  done
else
  echo "fuzz.sh: --smoke or --campaign" >&2; exit 1
fi
exit $status
