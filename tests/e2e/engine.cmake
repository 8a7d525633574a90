# r1vk logits (prefill and decode) and greedy r1vk run against the float64 numpy oracle, on random
# GPTQ checkpoints covering sym/asym, act-order (each linear its own permutation, or q/k/v and gate/up
# sharing one as real checkpoints do), groups 32/64/128, v1/v2, tied/untied heads, shards,
# GQA ratios 1, 2, 5 and 7, a partial last group and a multi-chunk prefill. "name|--kv-q8|args" also
# checks --kv-cache q8 (head sizes 32 and 128) against the oracle's int8 rows, "--act-q8" --activations q8
# (groups of 32 and 128, widths of 2 to 20 blocks) against its int8 matvec inputs.
set(_e2e_cases
  "gqa1_g32_asym_v1|--act-q8|--hidden 64 --heads 4 --kv-heads 4 --intermediate 160 --layers 2 --vocab 300 --group-size 32 --asym --seed 1"
  "gqa2_g64_sym_v2_tied_shards|--kv-q8|--hidden 128 --heads 4 --kv-heads 2 --intermediate 256 --layers 2 --vocab 400 --group-size 64 --v2 --tied --shards 2 --seed 2"
  "gqa5_g128_asym_actorder_shards|--hidden 320 --heads 5 --kv-heads 1 --intermediate 384 --layers 2 --vocab 333 --group-size 128 --asym --desc-act --shards 3 --seed 3"
  "gqa7_g32_sym_actorder_sharedperm_tied|--hidden 224 --heads 7 --kv-heads 1 --intermediate 256 --layers 2 --vocab 500 --group-size 32 --desc-act --shared-perm --tied --seed 4"
  "gqa2_g128_asym_v2_partialgroup|--hidden 256 --heads 8 --kv-heads 4 --intermediate 296 --layers 3 --vocab 256 --group-size 128 --asym --v2 --quant-config-style file --seed 5"
  "gqa5_hd128_bf16embed|--kv-q8 --act-q8|--hidden 640 --heads 5 --kv-heads 1 --intermediate 512 --layers 2 --vocab 320 --group-size 128 --embed-dtype BF16 --rope-theta 10000 --seed 6"
)
foreach(c ${_e2e_cases})
  string(REPLACE "|" ";" parts "${c}")
  list(GET parts 0 name)
  list(GET parts -1 args)
  separate_arguments(args UNIX_COMMAND "${args}")
  set(extra "")
  list(LENGTH parts n)
  if(n EQUAL 3)
    list(GET parts 1 extra)  # options of check_engine.py itself (--kv-q8, --act-q8)
    separate_arguments(extra UNIX_COMMAND "${extra}")
  endif()
  add_test(NAME e2e.oracle.${name}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_engine.py
                   --r1vk $<TARGET_FILE:r1vk> --work ${CMAKE_CURRENT_BINARY_DIR}/e2e/${name} ${extra} -- ${args})
  set_tests_properties(e2e.oracle.${name} PROPERTIES LABELS e2e TIMEOUT 900)
endforeach()
# A long sequence through several prefill chunks and many KV splits.
add_test(NAME e2e.oracle.long_prefill_chunks
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_engine.py
                 --r1vk $<TARGET_FILE:r1vk> --work ${CMAKE_CURRENT_BINARY_DIR}/e2e/long --n-ids 600 --prefill-chunk 96
                 --greedy 0 -- --hidden 128 --heads 4 --kv-heads 2 --intermediate 256 --layers 2 --vocab 300
                 --group-size 64 --asym --max-pos 4096 --seed 7)
set_tests_properties(e2e.oracle.long_prefill_chunks PROPERTIES LABELS e2e TIMEOUT 900)
# Long context: 3,000 positions, prefill in chunks of 512 and 3,000 single-token decode steps, so the
# split-KV attention (on lavapipe up to 4 splits a kv head, then the combine) is checked against the
# oracle at length, not only at 600 tokens; on the CPU device's shapes decode must equal prefill exactly.
add_test(NAME e2e.oracle.long_context_3000
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_engine.py
                 --r1vk $<TARGET_FILE:r1vk> --work ${CMAKE_CURRENT_BINARY_DIR}/e2e/long3000 --n-ids 3000 --prefill-chunk 512
                 --greedy 0 --identical-on-cpu -- --hidden 128 --heads 4 --kv-heads 2 --intermediate 256 --layers 2 --vocab 300
                 --group-size 64 --max-pos 4096 --seed 8)
set_tests_properties(e2e.oracle.long_context_3000 PROPERTIES LABELS e2e TIMEOUT 900)
