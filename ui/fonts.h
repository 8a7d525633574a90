// Fonts through fontconfig: DejaVu Sans (Latin, Greek, Cyrillic, math operators) with Noto Sans CJK
// merged in, so reasoning traces in any of those scripts render. Falls back to ImGui's built-in font
// (ASCII only) when neither is installed, saying so in the returned note.
#pragma once

#include <string>

namespace r1vk::ui {

// Adds the fonts to ImGui's atlas at `px` pixels; returns a one-line note describing what was found.
std::string load_fonts(float px);

}  // namespace r1vk::ui
