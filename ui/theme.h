// The app's colours: the style's text colour (main.cpp) and the panels' accents, declared once.
#pragma once

#include "imgui.h"

namespace r1vk::ui {

inline const ImVec4 kText(0.92f, 0.93f, 0.95f, 1.0f);    // body text (ImGuiCol_Text)
inline const ImVec4 kDim(0.62f, 0.65f, 0.72f, 1.0f);     // reasoning, labels, hints
inline const ImVec4 kAccent(0.45f, 0.70f, 1.0f, 1.0f);   // headings, the user's turns, notes
inline const ImVec4 kErr(1.0f, 0.45f, 0.40f, 1.0f);      // errors, what does not fit
inline const ImVec4 kOk(0.45f, 0.85f, 0.50f, 1.0f);      // what fits

}  // namespace r1vk::ui
