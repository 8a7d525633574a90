# Type variants of one source: "name|source.comp|DEFINE|...". Sizes are specialization constants and
# shapes push constants; only the weight type and the reduction style become separate SPIR-V here.
set(R1VK_SHADER_VARIANTS
  "matvec_rows_f16|matvec_rows.comp|WEIGHT_F16"
  "read_bw_texel|read_bw.comp|TEXEL"
  "matvec_lanes_f16|matvec_lanes.comp|WEIGHT_F16"
  "matvec_texel_f16|matvec_texel.comp|WEIGHT_F16"
  "matvec_texel_q8|matvec_texel.comp|WEIGHT_Q8"
  "matvec_lanes_nosg|matvec_lanes.comp|NO_SUBGROUP"
  "matvec_lanes_f16_nosg|matvec_lanes.comp|WEIGHT_F16|NO_SUBGROUP"
  "matmul_f16|matmul.comp|WEIGHT_F16"
  "matmul_rows_f16|matmul_rows.comp|WEIGHT_F16"
  "matmul_texel_f16|matmul_texel.comp|WEIGHT_F16"
  "matmul_texel_q8|matmul_texel.comp|WEIGHT_Q8"
  "matvec_rows_q8|matvec_rows.comp|WEIGHT_Q8"
  "matvec_lanes_q8|matvec_lanes.comp|WEIGHT_Q8"
  "matvec_lanes_q8_nosg|matvec_lanes.comp|WEIGHT_Q8|NO_SUBGROUP"
  "matvec_dot_q8|matvec_dot.comp|WEIGHT_Q8"
  "matmul_q8|matmul.comp|WEIGHT_Q8"
  "matmul_rows_q8|matmul_rows.comp|WEIGHT_Q8"
  "rope_kv_q8|rope_kv.comp|KV_Q8"
  "attention_q8|attention.comp|KV_Q8"
  "attention_cpu_q8|attention_cpu.comp|KV_Q8"
)
