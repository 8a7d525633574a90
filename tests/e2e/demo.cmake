# The bundled demo model: its greedy output through r1vk equals the numpy oracle's, for a few prompts.
add_test(NAME e2e.demo.oracle_greedy
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_demo_oracle.py $<TARGET_FILE:r1vk>
                 ${CMAKE_SOURCE_DIR}/assets/models/r1-arith-demo)
set_tests_properties(e2e.demo.oracle_greedy PROPERTIES LABELS e2e TIMEOUT 900)

# The user-facing commands on the bundled model (run, chat, bench) with no -m, from outside the tree.
add_test(NAME e2e.demo.cli COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_demo_cli.py $<TARGET_FILE:r1vk>)
set_tests_properties(e2e.demo.cli PROPERTIES LABELS e2e TIMEOUT 600)

# Issue I: the first five minutes with the CLI (seeds, prompt input, flags, messages, chat commands,
# Ctrl-C under a pseudo-terminal) on the bundled model.
add_test(NAME e2e.demo.first_minutes
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_first_minutes.py $<TARGET_FILE:r1vk>)
set_tests_properties(e2e.demo.first_minutes PROPERTIES LABELS e2e TIMEOUT 900
                     ENVIRONMENT "R1VK_SOURCE_DIR=${CMAKE_SOURCE_DIR}")

# Nothing the user typed or the model wrote is lost when a chat turn, a /save or stdout fails; a model
# folder's template and tokenizer faults are named at load.
add_test(NAME e2e.demo.chat_keeps
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_chat_keeps.py $<TARGET_FILE:r1vk>)
set_tests_properties(e2e.demo.chat_keeps PROPERTIES LABELS e2e TIMEOUT 600)

# `r1vk chat` at a terminal (a pseudo-terminal) and from a pipe: line editing and history, Ctrl-C,
# the conversation saved on exit, --load, the multi-line forms.
add_test(NAME e2e.demo.chat_terminal
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_chat_terminal.py $<TARGET_FILE:r1vk>)
set_tests_properties(e2e.demo.chat_terminal PROPERTIES LABELS e2e TIMEOUT 600)
