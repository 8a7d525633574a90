#!/usr/bin/python3
"""Writes tests/data/tokenizer/strings.json: the tokenizer test inputs (stdlib only, deterministic).

Each family targets one stage of the HF pipeline: added-token splitting, NFC, the Split regex
(contractions, letters, digits, punctuation, the whitespace alternatives and their (?!\\S)), byte-level
BPE (long words, 4-byte characters), plus seeded random mixes of all of them.
"""
import json
import os
import random
import sys

PROSE = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world!",
    "In 1492, Columbus sailed the ocean blue; he didn't know where he'd land.",
    "It was the best of times, it was the worst of times, it was the age of wisdom...",
    "Tokenization is the process of splitting text into smaller units called tokens.",
    "She sells sea-shells by the sea-shore (allegedly).",
    "Mr. O'Neil's dog—a beagle—barked at 3:45 a.m. \"Why?\" she asked.",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "E-mail me at john.doe+test@example.com or visit https://example.org/path?q=1&r=two#frag.",
    "A sentence with UPPERCASE, lowercase, and MiXeD cAsE words.",
    "Wait... what?! Really?!?! No way!!!",
    "Résumé, naïve café, coöperate, façade, jalapeño, über.",
    "first line\nsecond line\nthird line",
    "Question: What is 2 + 2?\nAnswer: 4.",
    "Let's think step by step. First, we note that x = 3.",
    "#hashtag @mention $dollar %percent ^caret &ampersand *star",
    "semi;colon:colon,comma.period!bang?question",
    "(parentheses) [brackets] {braces} <angles>",
    "under_score snake_case camelCase PascalCase kebab-case SCREAMING_CASE",
    "The year 2024 had 366 days.",
    "Once upon a time, in a land far, far away, there lived a tokenizer.",
    "Dear Sir or Madam,\n\nI am writing to inform you...\n\nSincerely,\nMe",
]

CONTRACTIONS = [
    "It's", "IT'S", "it'S", "he'll", "HE'LL", "He'Ll", "we've", "WE'VE", "We'Ve", "I'm", "I'M",
    "you'd", "YOU'D", "they're", "THEY'RE", "don't", "DON'T", "can't", "isn't",
    "'s 't 're 've 'm 'll 'd", "'S 'T 'RE 'VE 'M 'LL 'D", "'sound 'tree 'really",
    "rock'n'roll", "O'Reilly's", "the dogs' bowls", "''''s", "' s", "'ſ 'K 'ſt",  # long s and Kelvin sign
    "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL",
]

CJK = [
    "我想在apple工作1314151天～",
    "今天天气很好，我们去公园散步吧。",
    "中华人民共和国成立于1949年10月1日。",
    "机器学习是人工智能的一个分支。",
    "こんにちは、世界！",
    "ひらがな カタカナ 漢字 ﾊﾝｶｸｶﾀｶﾅ",
    "東京都渋谷区に住んでいます。",
    "日本語の文章をトークン化します。",
    "안녕하세요, 세계!",
    "한국어 텍스트를 토큰화합니다.",
    "대한민국의 수도는 서울입니다.",
    "𠀀𠀁𠀂 CJK Extension B characters 𪚥",
    "全角ＡＢＣ１２３ and half-width ABC123",
    "「引用」『二重引用』【括弧】",
]

SCRIPTS = [
    "Привет, мир! Как дела?",
    "нещо на Български",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "مرحبا بالعالم",
    "اللغة العربية جميلة جدا.",
    "שלום עולם",
    "עברית היא שפה שמית.",
    "नमस्ते दुनिया",
    "हिन्दी भाषा भारत में बोली जाती है।",
    "สวัสดีชาวโลก",
    "ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "Γειά σου Κόσμε",
    "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.",
    "កាន់តែពិសេសអាច",
    "Ἀρχὴ ἥμισυ παντός",
    "ქართული ენა",
    "Հայերեն լեզու",
    "አማርኛ ቋንቋ",
    "தமிழ் மொழி",
    "বাংলা ভাষা",
]

EMOJI = [
    "🚀", "🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ 🦙🦙",
    "👨‍👩‍👧‍👦", "👩‍👩‍👦‍👦 family", "👨🏽‍💻 developer", "🧑🏿‍🤝‍🧑🏻",
    "🇺🇸🇬🇧🇯🇵🇩🇪", "🇺🇸 flag", "🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland",
    "👍🏻👍🏼👍🏽👍🏾👍🏿", "✌️ ✌︎ ☺️ ☺", "❤️‍🔥", "#️⃣ 1️⃣ *️⃣",
    "😀😃😄😁😆😅😂🤣", "emoji😀inside😃words", "🏳️‍🌈🏳️‍⚧️",
]

CODE = [
    "def hello(name: str) -> None:\n    print(f\"Hello, {name}!\")\n",
    "import numpy as np\nx = np.zeros((3, 4), dtype=np.float32)\n",
    "for i in range(10):\n\tif i % 2 == 0:\n\t\tcontinue\n\tprint(i)",
    "class Foo:\n    def __init__(self):\n        self._x = None  # private\n",
    "#include <iostream>\nint main() {\n    std::cout << \"Hello\\n\";\n    return 0;\n}\n",
    "template <typename T>\nauto add(T a, T b) -> decltype(a + b) { return a + b; }",
    "std::vector<std::unique_ptr<Node>> nodes; nodes.emplace_back(std::make_unique<Node>());",
    "if (x != nullptr && x->next) { x = x->next; } // walk",
    "{\"name\": \"r1vk\", \"version\": 1, \"tags\": [\"a\", \"b\"], \"nested\": {\"k\": null}}",
    "[\n  {\"id\": 1, \"ok\": true},\n  {\"id\": 2, \"ok\": false}\n]",
    "#!/usr/bin/env bash\nset -euo pipefail\nfor f in *.txt; do echo \"$f\"; done\n",
    "ls -la | grep '^d' | awk '{print $9}' > dirs.txt 2>&1 &",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;",
    "<div class=\"container\"><p>Hello &amp; goodbye</p></div>",
    "fn main() { let v: Vec<i32> = (0..10).map(|x| x * x).collect(); }",
    "    indented with four spaces\n        and eight\n\t\tand two tabs",
    "x+=1;y-=2;z*=3;w/=4;a%=5;b<<=1;c>>=2;d&=e|f^g;",
    "/* block comment */ // line comment\n/** doc */",
    "regex = r\"^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)$\"",
    "```python\nprint('hi')\n```",
]

LATEX = [
    "$E = mc^2$",
    "\\frac{a}{b} + \\sqrt{x^2 + y^2}",
    "\\begin{equation}\n\\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}\n\\end{equation}",
    "\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}",
    "\\mathbb{R}^n \\to \\mathcal{L}(V, W)",
    "$$\\left( \\begin{array}{cc} 1 & 2 \\\\ 3 & 4 \\end{array} \\right)$$",
    "\\boxed{42}",
    "Let $f: X \\rightarrow Y$ be continuous, $\\forall \\epsilon > 0 \\exists \\delta$.",
]

NUMBERS = [
    "0", "7", "42", "123", "1234567890", "3.14159265358979323846",
    "1,000,000", "1.000.000,00", "-273.15", "+1 (555) 123-4567", "6.02e23", "0x1F 0b1010 0o777",
    "3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3",
    "12345678901234567890123456789012345678901234567890",
    "v1.2.3-rc.4+build.567", "2024-01-15T12:34:56Z", "½ ¼ ¾ ² ³ ¹ ⁴ ₁ ₂", "٠١٢٣٤٥٦٧٨٩ ०१२३ 一二三 ①②③",
]

WHITESPACE = [
    " ", "  ", "   ", "    ", "\t", "\t\t", " \t ", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n", "\r",
    "a\rb", "a\r\nb", "a\n\n\nb", "trailing space ", "trailing spaces   ", "   leading spaces",
    "multiple   spaces   between", "tabs\tbetween\twords", "mixed \t \t whitespace", "line\n  indented",
    "ends with newline\n", "ends with newlines\n\n", " \n \n ", "\n \n", "x \n y", "x  \n\n  y",
    "a\u00a0b", "a\u00a0\u00a0b", "a \u00a0 b", "x\u00a0", "\u00a0x", "a\u3000b", "全角\u3000スペース",
    "a\u3000\u3000 b", "a\x0bb", "a\x0cb", "a \x0b b", "a\u2028b", "a\u2029b", "a \u2028 b",
    "a\u0085b", "x  \u0085\u0085 y", "\u0085\u0085", "a \u0085b", "!\u0085!", "a\u1680b", "a\u202fb",
    "a\u205fb", "a\u2000\u2001\u2002\u2003b", "a\u200ab", "a\u200bb", "a \u200b b", "a\ufeffb",
    "\ufeffhello", "x \ufeff y", "!\ufeff!", "a\u180eb", "x \u180e y", "!\u180e!", "a\x1cb\x1dc\x1ed\x1fe",
    "!\x1c!", " \x1c ", "   \t\t\t   ", "\t\n\t\n", "word \n", "word\t\n\t", "x\r\r\ry", "\r\r\n\n",
]

NFC = [
    "e\u0301", "\u00e9", "cafe\u0301 vs caf\u00e9", "A\u030a", "\u00c5", "\u212b", "\u2126 ohm",
    "\u1100\u1161\u11a8", "\u1112\u1161\u11ab\u1100\u1173\u11af", "\uac00",
    "q\u0307\u0323", "q\u0323\u0307", "e\u0301\u0301", "\u0301 starts with a combining mark",
    "\u1e9b\u0323", "\uf900\uf901 compat ideographs", "\u0344 \u0340 \u0341", "o\u0308\u0304",
    "n\u0303 \u00f1", "\u0958\u0959", "Ko\u0308ln", "\u30ab\u3099 \u30ac",
]

SPECIALS = [
    "<think>", "</think>", "<think>\nreasoning\n</think>\n\nanswer",
    "<think>x</think>", "<think></think>", "<think><think>", "</think></think>",
    "<｜User｜>Hello<｜Assistant｜>Hi", "<｜begin▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜><think>\n",
    "<｜end▁of▁sentence｜>", "text<｜end▁of▁sentence｜>more", "<｜User｜><｜User｜>",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", "<|im_start|>", "<|im_end|>",
    "<|endoftext|>", "<|EOT|>", "<tool_call>{\"name\": \"f\"}</tool_call>", "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>",
    "<|vision_start|><|image_pad|><|vision_end|>", "<|repo_name|>r1vk<|file_sep|>main.cpp",
    "<think", "think>", "</think", "<thin k>", "< think>", "<THINK>", "<｜User", "｜User｜>", "<|User|>",
    "<｜Assistant", "<｜end▁of▁sentence", "<|im_start", "<|im_start|", "<<think>>", "<</think>",
    "a<think>b", " <think> ", "  <think>  ", "\n<think>\n", "x</think>y", "<think>é</think>",
    "e<think>\u0301", "<tool_response>ok</tool_response>", "<|object_ref_start|>x<|object_ref_end|>",
    "<|quad_start|><|quad_end|><|vision_pad|><|video_pad|><|fim_pad|>",
    "<｜User｜> <｜Assistant｜> <｜end▁of▁sentence｜> <｜begin▁of▁sentence｜>",
    # For the flags variant (lstrip <think>, rstrip </think>, both on <tool_call>, normalized
    # "A\u030a!" and "<|x\u00a0y|>"); plain text for the other tokenizers.
    "x <think>", "x \u00a0\t<think>", "</think>  y", "</think>\n\ny", "a <tool_call>  b", "<think> <think>",
    "A\u030a!", "\u00c5!", "\u212b!", "xA\u030a!y", "A\u030a !", "<|x\u00a0y|>", "  <|x\u00a0y|>", "<|x y|>",
    "\u2028<think>\u2028", "\u0085</think>\u0085", "<|im_start|>\u0301", "e\u0301<|im_start|>",
]

MISC = [
    "",
    "a",
    "\x00", "a\x00b", "\x01\x02\x03\x7f", "\x1b[31mred\x1b[0m",
    "𝕳𝖊𝖑𝖑𝖔 𝔀𝓸𝓻𝓵𝓭", "𝟘𝟙𝟚 𝐀𝐁𝐂", "\U0001f600\U0010fffd\U000e0001", "\U0001d11e music",
    "mixed English и русский 和中文 و العربية",
    "Latin ﬁ ﬂ ligatures ﬀ ﬃ", "Ｆｕｌｌｗｉｄｔｈ", "ʻokina ʼapostrophe ’curly’ ‘quotes’ “double”",
    "…—–‐‑‒― dashes and ellipsis", "€£¥₹₽₿ ¢ ¤", "©®™ §¶ †‡ •", "→←↑↓⇒⇔ ∀∃∈∉ ≤≥≠≈ ∞",
    "Z̤̺̦̤̰̠̞̃̓̓̎ͤ͒a̮̩̞͎̦̘̮l̖̯̞̝̗̥͙͋̔̆͊ͤ͐g͖̣̟̈ͤ̔ͭ͊̅o̝̤͔̹̹ͫ", "ｱｲｳｴｵ",
    "------======= ''''''```````\"\"\"\"......!!!!!!??????",
    "ℌ𝔢𝔩𝔩𝔬 Å Ω K", "İstanbul ıi ß ẞ ﬆ", "ǅǆǄ ǈǉǇ",
]


def long_strings():
    return [
        "a" * 3000,
        "ab" * 2000,
        "Lorem" * 500,
        "9" * 2000,
        "!" * 2500,
        " " * 3000,
        " " * 1000 + "x",
        "\n" * 1000,
        "\t" * 500 + "end",
        "🦙" * 600,
        "漢" * 1500,
        "é" * 1000,
        "e\u0301" * 700,
        "pneumonoultramicroscopicsilicovolcanoconiosis" * 40,
        "<think>" * 100,
        "<｜User｜>x" * 50,
    ]


def random_mix(rng, n):
    atoms = (
        "the of and to in is you that it he was for on are as with his they I at be this have from "
        "can't won't he's THEY'LL we'D 's 'S 42 3.14 1,000 2024 ( ) [ ] { } ; : , . ! ? ... -- "
        "<think> </think> <｜User｜> <｜Assistant｜> <｜end▁of▁sentence｜> <|im_start|> <|im_end|> <think <｜User "
        "中文 日本語 한국어 Привет مرحبا שלום नमस्ते สวัสดี Γειά 🚀 👨‍👩‍👧 🇯🇵 👍🏽 ✌️ "
        "e\u0301 A\u030a \u1100\u1161 \u212b def return std:: {\"k\": 1} $x^2$ \\frac").split(" ")
    spaces = [" ", "  ", "\t", "\n", "\r\n", "\n\n", "\u00a0", "\u3000", "\u0085", "\u2028", "", "", "", " "]
    out = []
    for _ in range(n):
        k = rng.randint(1, 14)
        s = ""
        for _ in range(k):
            s += rng.choice(atoms) + rng.choice(spaces)
        out.append(s)
    return out


def main():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(repo, "tests/data/tokenizer/strings.json")
    rng = random.Random(20250117)
    strings = (PROSE + CONTRACTIONS + CJK + SCRIPTS + EMOJI + CODE + LATEX + NUMBERS + WHITESPACE + NFC +
               SPECIALS + MISC + long_strings() + random_mix(rng, 60))
    seen, unique = set(), []
    for s in strings:
        if s not in seen:
            seen.add(s)
            unique.append(s)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(unique, f, ensure_ascii=True, indent=0)
        f.write("\n")
    print(f"{out}: {len(unique)} strings")


if __name__ == "__main__":
    main()
