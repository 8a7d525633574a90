// Fonts through fontconfig: DejaVu Sans (Latin, Greek, Cyrillic, math operators) with Noto Sans CJK
// merged in, so reasoning traces in any of those scripts render. Falls back to ImGui's built-in font
// (ASCII only) when neither is installed, saying so in the returned note.
#pragma once

#include <string>

struct ImFontAtlas;

namespace r1vk::ui {

// Adds the fonts to `atlas` at `px` pixels and builds it (rasterises the glyphs); returns a one-line
// note describing what was found. Needs no ImGui context, so it can run on a thread while the window
// and the Vulkan device come up (the CJK glyphs are most of the start-up time on a slow CPU).
std::string load_fonts(ImFontAtlas* atlas, float px);

}  // namespace r1vk::ui
