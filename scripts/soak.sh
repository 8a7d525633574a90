#!/usr/bin/env bash
# Soak (issue G; a script, not a ctest): 10,000 generated tokens over many chat turns on the bundled
# model with the Khronos validation layer on. Passes when the VRAM ledger stays flat after the warm-up
# turns, RSS does not grow beyond a small slack, and the validation layer reports nothing; prints
# start/peak/end figures. Per-turn samples go to build/soak.csv.
#   scripts/soak.sh [--tokens N] [--warmup TURNS] [--rss-slack-mb MB] [-m DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${R1VK_BUILD_DIR:-build}
R1VK_BUILD_TARGETS=r1vk_soak scripts/build.sh >/dev/null
start=$(date +%s)
rc=0
"$BUILD_DIR/tests/r1vk_soak" --tokens 10000 --csv "$BUILD_DIR/soak.csv" "$@" || rc=$?
echo "soak: $(( $(date +%s) - start )) s"
exit $rc
