# Type variants of one source: "name|source.comp|DEFINE=value|...". Sizes are specialization constants,
# shapes push constants; only types and compile-time layouts become variants here.
set(R1VK_SHADER_VARIANTS
)
