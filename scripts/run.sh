#!/usr/bin/env bash
# The main job: install what is missing, build, and run r1vk on the bundled demo model
# (assets/models/r1-arith-demo). With no arguments it opens the desktop app, r1vk-chat, when a display
# is available ($DISPLAY or $WAYLAND_DISPLAY set and a window can open), and otherwise asks the model a
# sample question in the terminal, streaming its reasoning, then its answer. With arguments they go to
# the r1vk command (e.g. scripts/run.sh info --json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
scripts/build.sh >/dev/null
BUILD="${R1VK_BUILD_DIR:-build}"
if (($# == 0)); then
  if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" && -x "$BUILD/r1vk-chat" ]] && "$BUILD/r1vk-chat" --check-display 2>/dev/null; then
    exec "$BUILD/r1vk-chat"
  fi
  set -- run -p "What is 4738 + 2591?"
fi
exec "$BUILD/r1vk" "$@"
