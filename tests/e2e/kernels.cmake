# r1vk info --kernels: every decode kernel compiled for RADV's null NAVI21 (when the radeon ICD is
# installed) with registers and no spills; on lavapipe, statistics or a plain word that there are none.
add_test(NAME e2e.info.kernels
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_kernels.py $<TARGET_FILE:r1vk>)
set_tests_properties(e2e.info.kernels PROPERTIES LABELS e2e TIMEOUT 300 ENVIRONMENT R1VK_VALIDATION=1)
