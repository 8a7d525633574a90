# Hostile model directories (FIFOs, directories, devices, NaN weights) and injected device faults
# through the r1vk command: one-line errors, exit 2 / 3, no hang, no validation message.
add_test(NAME e2e.reliability
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_reliability.py $<TARGET_FILE:r1vk> ${_chat_model})
set_tests_properties(e2e.reliability PROPERTIES LABELS e2e FIXTURES_REQUIRED cli_model TIMEOUT 900)
