#!/usr/bin/env bash
# Configures and builds r1vk in build/ (Release, Ninja). Extra arguments go to the configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache keyed on paths relative to the checkout, so a clone in another folder (CI) reuses the cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
BUILD_DIR=${R1VK_BUILD_DIR:-build}
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
fi
# R1VK_BUILD_TARGETS="a b": only those targets (the TSan run needs only r1vk and the gpu tests).
read -r -a targets <<<"${R1VK_BUILD_TARGETS:-}"
args=()
for t in "${targets[@]}"; do args+=(--target "$t"); done
cmake --build "$BUILD_DIR" "${args[@]}" -- -j"${R1VK_JOBS:-$(nproc)}"
