# The CLI's contract: exit codes, one-line errors, tokenize/prompt against their references, the plan.
set(_chat_model ${CMAKE_CURRENT_BINARY_DIR}/models/cli_chat)
add_test(NAME e2e.cli.model
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/make_chat_model.py ${_chat_model}
                 --hidden 64 --heads 4 --kv-heads 2 --intermediate 128 --layers 1 --group-size 32 --seed 9)
set_tests_properties(e2e.cli.model PROPERTIES LABELS e2e FIXTURES_SETUP cli_model)
add_test(NAME e2e.cli.contract
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_cli.py $<TARGET_FILE:r1vk> ${_chat_model})
set_tests_properties(e2e.cli.contract PROPERTIES LABELS e2e FIXTURES_REQUIRED cli_model)
