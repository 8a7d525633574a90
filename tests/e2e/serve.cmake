# r1vk serve on the bundled demo model, driven by the official `openai` npm client (fetched, pinned, by
# scripts/fetch-test-data.sh into .cache/test-data/node_modules) and by raw HTTP for the error cases.
find_program(R1VK_NODE node)
if(R1VK_NODE)
  add_test(NAME e2e.serve.openai_client
           COMMAND ${R1VK_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_serve.mjs $<TARGET_FILE:r1vk>
                   ${CMAKE_SOURCE_DIR}/.cache/test-data/node_modules)
else()
  add_test(NAME e2e.serve.openai_client
           COMMAND ${CMAKE_COMMAND} -E echo "node not found: scripts/setup-deps.sh installs nodejs")
  set_tests_properties(e2e.serve.openai_client PROPERTIES WILL_FAIL ON)
endif()
set_tests_properties(e2e.serve.openai_client PROPERTIES LABELS e2e TIMEOUT 600 ENVIRONMENT R1VK_VALIDATION=1)
