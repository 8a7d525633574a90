#include "ui/fonts.h"

#include <fontconfig/fontconfig.h>

#include <cstdlib>
#include <filesystem>

#include "imgui.h"

namespace r1vk::ui {

namespace {

struct Found {
    std::string file;
    int index = 0;
};

// The file fontconfig picks for `family`, only if it really is that family (fc-match always answers
// with *something*, and a substitute may lack the glyphs we want it for).
Found find_font(const char* family) {
    Found out;
    FcPattern* pat = FcNameParse(reinterpret_cast<const FcChar8*>(family));
    if (!pat) return out;
    FcConfigSubstitute(nullptr, pat, FcMatchPattern);
    FcDefaultSubstitute(pat);
    FcResult res;
    if (FcPattern* m = FcFontMatch(nullptr, pat, &res)) {
        FcChar8 *file = nullptr, *fam = nullptr;
        int idx = 0;
        if (FcPatternGetString(m, FC_FILE, 0, &file) == FcResultMatch &&
            FcPatternGetString(m, FC_FAMILY, 0, &fam) == FcResultMatch &&
            std::string(reinterpret_cast<char*>(fam)).find(std::string(family).substr(0, 9)) == 0) {
            FcPatternGetInteger(m, FC_INDEX, 0, &idx);
            if (std::filesystem::exists(reinterpret_cast<char*>(file))) out = {reinterpret_cast<char*>(file), idx};
        }
        FcPatternDestroy(m);
    }
    FcPatternDestroy(pat);
    return out;
}

// Western scripts and the symbols maths-heavy reasoning uses.
const ImWchar kWestern[] = {
    0x0020, 0x00FF,  // Basic Latin + Latin-1
    0x0100, 0x024F,  // Latin Extended-A/B
    0x0370, 0x03FF,  // Greek
    0x0400, 0x04FF,  // Cyrillic
    0x2000, 0x206F,  // General punctuation
    0x2070, 0x209F,  // super/subscripts
    0x20A0, 0x20CF,  // currency
    0x2100, 0x214F,  // letterlike (ℝ, ℕ)
    0x2190, 0x21FF,  // arrows
    0x2200, 0x22FF,  // mathematical operators
    0x2300, 0x23FF,  // misc technical
    0x2500, 0x259F,  // box drawing, block elements (SentencePiece's ▁)
    0x25A0, 0x25FF,  // geometric shapes
    0x2713, 0x2717,  // check marks
    0x27E8, 0x27EB,  // angle brackets
    0,
};

}  // namespace

std::string load_fonts(ImFontAtlas* atlas, float px) {
    std::string note;
    FcInit();
    const Found latin = find_font("DejaVu Sans");
    // R1VK_CHAT_CJK=0 skips the CJK glyphs (about half of the start-up time on a slow CPU).
    const char* cjk_env = std::getenv("R1VK_CHAT_CJK");
    Found cjk = cjk_env && std::string(cjk_env) == "0" ? Found{} : find_font("Noto Sans CJK SC");
    // The file names are ours now: let fontconfig free its configuration and caches (else they live
    // until exit, which LeakSanitizer reports).
    FcFini();
    bool have_main = false;
    if (!latin.file.empty()) {
        ImFontConfig c;
        c.FontNo = latin.index;
        c.OversampleH = 2;
        have_main = atlas->AddFontFromFileTTF(latin.file.c_str(), px, &c, kWestern) != nullptr;
    }
    if (!have_main) {
        ImFontConfig c;
        c.SizePixels = px;
        atlas->AddFontDefault(&c);
        note = "DejaVu Sans not found (fonts-dejavu-core): ASCII-only built-in font";
    }
    if (!cjk.file.empty()) {
        ImFontConfig c;
        c.MergeMode = true;
        c.FontNo = cjk.index;
        c.OversampleH = 1;  // CJK glyphs are many: keep the atlas small
        c.PixelSnapH = true;
        // The common set keeps the atlas (and start-up) small; the full 21k set would cost ~0.5 s.
        atlas->AddFontFromFileTTF(cjk.file.c_str(), px, &c, atlas->GetGlyphRangesChineseSimplifiedCommon());
    } else if (note.empty()) {
        note = "Noto Sans CJK not found (fonts-noto-cjk): CJK text shows as '?'";
    }
    if (note.empty()) note = "fonts: " + latin.file + " + " + cjk.file;
    atlas->Build();
    return note;
}

}  // namespace r1vk::ui
