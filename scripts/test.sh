#!/usr/bin/env bash
# Everything the tests need, then all of them: packages, the cached test vocabulary, a build, ctest.
# The gpu tests run for real on the Vulkan device (lavapipe on a machine without a GPU) with the
# Khronos validation layer on; a validation message fails the test that caused it.
#
#   scripts/test.sh [ctest args]                     the normal build in build/, every test
#   scripts/test.sh --sanitize address [ctest args]  ASan+UBSan build in build-asan/, every test
#   scripts/test.sh --sanitize thread [ctest args]   TSan build in build-tsan/, the threading tests
#
# Sanitizer options and the (third-party only) suppressions live in tests/sanitizers/.
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZE=""
if [[ "${1:-}" == "--sanitize" ]]; then
  SANITIZE=${2:?--sanitize needs address or thread}
  shift 2
fi
scripts/setup-deps.sh
scripts/fetch-test-data.sh
SAN=$PWD/tests/sanitizers
case "$SANITIZE" in
  "")
    scripts/build.sh ;;
  address)
    export R1VK_BUILD_DIR=${R1VK_BUILD_DIR:-build-asan}
    # -O1: the sanitized build is for finding bugs; it compiles much faster than -O2 on 2 cores.
    scripts/build.sh -DR1VK_SANITIZE=address -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1"
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0:strict_string_checks=1:check_initialization_order=1"
    export LSAN_OPTIONS="suppressions=$SAN/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$SAN/ubsan.supp"
    # Everything but the demo model's three accuracy sweeps (550 generations, ~12 min of ASan time on 2
    # cores): the same engine and Session paths run in the other gpu and e2e tests.
    if (($# == 0)); then set -- -E 'DemoModel\.(SolvesHeldOutProblemsThroughVulkan|SolvesHeldOutPhrasings|AnswersTheSecondQuestionOfAChat)'; fi
    ;;
  thread)
    export R1VK_BUILD_DIR=${R1VK_BUILD_DIR:-build-tsan}
    export R1VK_BUILD_TARGETS=${R1VK_BUILD_TARGETS:-r1vk r1vk_gpu_tests}
    scripts/build.sh -DR1VK_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1"
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$SAN/tsan.supp"
    # The Session/threading tests only (see tests/sanitizers/README.md for why not the whole suite).
    if (($# == 0)); then set -- -R 'Session|Concurrency|Fault|TurnQueue'; fi
    ;;
  *) echo "test.sh: --sanitize takes address or thread" >&2; exit 1 ;;
esac
cd "${R1VK_BUILD_DIR:-build}"
# Which device the gpu tests will use (they run with the validation layer on, always).
echo "== Vulkan device for the gpu tests:"
R1VK_VALIDATION=1 ./r1vk info | grep -E '^\* device|^Vulkan devices: none' || true
ctest --output-on-failure --timeout 1500 -j"${R1VK_TEST_JOBS:-2}" "$@"
