#!/usr/bin/env bash
# Everything the tests need, then all of them: packages, the cached test vocabulary, a build, ctest.
# The gpu tests run for real on the Vulkan device (lavapipe on a machine without a GPU) with the
# Khronos validation layer on; a validation message fails the test that caused it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
scripts/fetch-test-data.sh
scripts/build.sh
cd "${R1VK_BUILD_DIR:-build}"
# Which device the gpu tests will use (they run with the validation layer on, always).
echo "== Vulkan device for the gpu tests:"
R1VK_VALIDATION=1 ./r1vk info | grep -E '^\* device|^Vulkan devices: none' || true
ctest --output-on-failure --timeout 1500 -j"${R1VK_TEST_JOBS:-2}" "$@"
