#!/usr/bin/env bash
# The main job: install what is missing, build, and run r1vk. With no arguments it asks the bundled
# demo model (assets/models/r1-arith-demo) a sample question and streams its reasoning, then its
# answer; with arguments they go to the r1vk command (e.g. scripts/run.sh info --json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
scripts/build.sh >/dev/null
if (($# == 0)); then set -- run -p "What is 4738 + 2591?"; fi
exec "${R1VK_BUILD_DIR:-build}/r1vk" "$@"
