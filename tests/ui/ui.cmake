# ui: r1vk-chat, the desktop app. Unit tests of its persistence and text helpers, its commands and
# event handling driven without a window (test_app.cpp, on the demo model), its scripted mode under
# Xvfb on the Vulkan device with the validation layer (answer, screenshot, state dump, branch,
# restart, errors, UTF-8), and a branch made in the app checked against a fresh Session forced with
# the same prefix.
if(NOT TARGET r1vk-chat)
  return()
endif()
find_program(XVFB Xvfb)

file(GLOB R1VK_UI_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/ui/*.cpp)
add_executable(r1vk_ui_tests ${R1VK_UI_TEST_SOURCES})
target_compile_definitions(r1vk_ui_tests PRIVATE ${R1VK_TEST_DEFINES})
target_link_libraries(r1vk_ui_tests PRIVATE r1vk_ui_core GTest::gtest_main)
set(R1VK_UI_OUT ${CMAKE_BINARY_DIR}/tests/ui-out)
target_compile_definitions(r1vk_ui_tests PRIVATE R1VK_UI_BRANCH_TRANSCRIPT="${R1VK_UI_OUT}/branch.json")
gtest_discover_tests(r1vk_ui_tests DISCOVERY_MODE PRE_TEST
  PROPERTIES LABELS ui FIXTURES_REQUIRED ui_branch
             ENVIRONMENT R1VK_VALIDATION=1)

if(NOT XVFB)
  message(WARNING "Xvfb not found: the r1vk-chat window tests are skipped (apt-get install xvfb)")
  return()
endif()
foreach(mode answer budget stop branch clicks close signal context persist nodisplay badmodel profile utf8)
  add_test(NAME ui.app.${mode}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/ui/check_ui.py $<TARGET_FILE:r1vk-chat> ${mode} ${R1VK_UI_OUT})
  set_tests_properties(ui.app.${mode} PROPERTIES LABELS ui TIMEOUT 300 RESOURCE_LOCK xvfb)
endforeach()
set_tests_properties(ui.app.branch PROPERTIES FIXTURES_SETUP ui_branch)
