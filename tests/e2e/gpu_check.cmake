# scripts/gpu-check.sh, the one-shot check for a lent GPU, in the dry run its header gives, on this
# machine's device: a session with a GPU has minutes for it, so the script must not first fail there.
add_test(NAME e2e.gpu_check.dry_run
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_gpu_check.py ${PROJECT_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(e2e.gpu_check.dry_run PROPERTIES LABELS e2e TIMEOUT 600 ENVIRONMENT R1VK_VALIDATION=1)
