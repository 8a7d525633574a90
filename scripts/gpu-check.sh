#!/usr/bin/env bash
# The performance check on a real GPU (first of all a lent NVIDIA H200), run from the repo root of a
# fresh machine with build/ carried over from the build machine: unpack the Vulkan loader debs kept in
# .gl/ (see /work/.library/device/README.md for how they were downloaded), find the NVIDIA driver,
# print `r1vk info`, run the gpu tests, then bench the 14B's shapes with the per-kernel profile and
# compare decode's effective GB/s with the device's own copy and compute-read baselines (measured in the
# same run) and with the nominal bandwidth, then decode with --lm-head f16 vs q8, --activations f32 vs
# q8 and, at depth 16384, --kv-cache f16 vs q8, when time is left.
# Everything under `timeout`, 8 minutes in all.
#   scripts/gpu-check.sh [BANDWIDTH_GB_S]     (default: the lent card's nominal bandwidth, from its name:
#   H200 4800, H100 SXM 3350, H100 NVL 3900, H100 PCIe 2000 GB/s; 4800 for a name it does not know)
# Carry (the device tool's `carry`): build/r1vk build/tests/r1vk_gpu_tests build/tests/models
# build/CMakeCache.txt .gl   (.gl/ made by scripts/gpu-carry.sh: the loader and validation-layer debs,
# and in .gl/lib the shared libraries a bare machine may lack; 29 MB in all). The `run` call:
#   kind nvidia-h200 (or none), timeout_s 590, command "bash scripts/gpu-check.sh", that carry list.
# The order puts the measurement first: info, the 14B bench, a short bench under the validation layer,
# the gpu tests, then the int8 pairs while time is left.
# Output also goes to $OUT/gpu-check.log when $OUT is set (the device tool brings $OUT back).
# GPU_CHECK_BUILD=DIR takes the binaries from DIR instead of build/ (ctest's dry run, e2e.gpu_check).
# GPU_CHECK_GL=DIR takes .gl from DIR. GPU_CHECK_ANY_DEVICE=1 lets a device that is no GPU be measured.
# For a dry run on a small device: GPU_CHECK_ANY_DEVICE=1 GPU_CHECK_MODEL=qwen2.5-0.5b
# GPU_CHECK_ARGS="--layers 2 -p 8 -n 2 -r 1" GPU_CHECK_SKIP_TESTS=1 GPU_CHECK_Q8_ARGS="--layers 2 -p 8 -n 4 -r 1" \
# GPU_CHECK_KV_ARGS="--layers 2 -p 8 -n 4 -r 1 -d 512 -c 600" scripts/gpu-check.sh 50
set -uo pipefail
cd "$(dirname "$0")/.."
BW=${1:-}
B=${GPU_CHECK_BUILD:-build}
MODEL=${GPU_CHECK_MODEL:-r1-distill-qwen-14b}
ARGS=${GPU_CHECK_ARGS:--p 512 -n 128 -r 3}
Q8_ARGS=${GPU_CHECK_Q8_ARGS:--p 8 -n 64 -r 3}
GL=${GPU_CHECK_GL:-.gl}
LOG=${OUT:+$OUT/gpu-check.log}
LOG=${LOG:-/dev/null}
exec > >(tee -a "$LOG") 2>&1
tee_pid=$!
T=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
# On exit: the temporary folder goes, and tee is waited for, so the log's last lines reach $OUT.
trap 'rm -rf "$T"; exec >&- 2>&-; wait $tee_pid' EXIT
deadline=$(( $(date +%s) + 470 ))   # 8 minutes, less the set-up
left() { echo $(( deadline - $(date +%s) )); }
step() { echo; echo "== $* ($(left) s left)"; }

if [[ ! -x "$B/r1vk" || ! -x "$B/tests/r1vk_gpu_tests" ]]; then
  echo "gpu-check: $B/r1vk and $B/tests/r1vk_gpu_tests are needed (carry them over)"; exit 2
fi
# The tests find the demo model (source folder) and their random checkpoints (build/tests/models, made
# here by Debian's numpy python, which that machine may lack) under the folders baked in at build time.
# Where this copy sits elsewhere, the baked source path is made a link to it. Carry build/CMakeCache.txt
# (it names that path) and build/tests/models; build/ as a whole is over the 64 MiB a call carries.
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$B/CMakeCache.txt" 2>/dev/null)
if [[ -n $src && ! -e $src ]]; then
  mkdir -p "$(dirname "$src")" && ln -s "$PWD" "$src" && echo "gpu-check: $src -> $PWD (the tests' baked paths)"
elif [[ -z $src ]]; then
  echo "gpu-check: no $B/CMakeCache.txt: tests that load the demo model may not find it"
fi
# (grep without -q in these tests: under pipefail, grep -q leaving early gets its writer a SIGPIPE,
# and the pipeline then fails even though it matched.)
if ! ldconfig -p | grep libvulkan.so.1 >/dev/null; then
  if compgen -G "$GL/*.deb" >/dev/null; then
    for f in "$GL"/*.deb; do dpkg -x "$f" /; done
    ldconfig
  else
    echo "gpu-check: no libvulkan.so.1 and no $GL/*.deb to unpack it from"; exit 2
  fi
fi
# The gpu tests insist on the Khronos validation layer: unpacked whenever it is missing, loader or not.
if [[ ! -e /usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json ]] &&
   compgen -G "$GL/vulkan-validationlayers_*.deb" >/dev/null; then
  dpkg -x "$GL"/vulkan-validationlayers_*.deb / && ldconfig
fi
# Shared libraries the binaries need that this machine lacks (Debian 12 sonames): linked from
# $GL/lib; if the binaries still cannot start (a library there but too old: a GLIBCXX version not
# found, or broken), every carried one is used.
mkdir -p "$T/lib"
link_libs() {  # all | missing
  for f in "$GL"/lib/*.so*; do
    [[ -e $f ]] || continue
    n=${f##*/}
    if [[ $1 == all ]] || ! ldconfig -p | grep -F "	$n (" >/dev/null; then ln -sf "$(readlink -f "$f")" "$T/lib/$n"; fi
  done
}
starts() { "$B/r1vk" --version >/dev/null 2>&1 && "$B/tests/r1vk_gpu_tests" --gtest_list_tests >/dev/null 2>&1; }
link_libs missing
export LD_LIBRARY_PATH=$T/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
starts || link_libs all
for n in "$T"/lib/*; do [[ -e $n ]] && echo "gpu-check: carried lib ${n##*/}"; done
if ! starts; then
  "$B/r1vk" --version 2>&1 | tail -3; "$B/tests/r1vk_gpu_tests" --gtest_list_tests 2>&1 | tail -3
  echo "gpu-check: the binaries cannot start here (make .gl/lib with scripts/gpu-carry.sh and carry .gl)"; exit 2
fi
if ! timeout -k 10 60 "$B/r1vk" info 2>/dev/null | grep "GPU)" >/dev/null; then
  found=
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
             /etc/vulkan/icd.d/nvidia_icd.json; do
    if [[ -f $icd ]]; then export VK_DRIVER_FILES=$icd; found=1; echo "gpu-check: VK_DRIVER_FILES=$icd"; break; fi
  done
  # No driver file at all: NVIDIA's Vulkan entry point is in libGLX_nvidia; a file naming it will do.
  glx=$(ldconfig -p | awk '$1 == "libGLX_nvidia.so.0" {print $NF; exit}')
  [[ -z $glx && -e /usr/local/nvidia/lib64/libGLX_nvidia.so.0 ]] && glx=/usr/local/nvidia/lib64/libGLX_nvidia.so.0
  if [[ -z $found && -n $glx ]]; then
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$glx" > "$T/nvidia_icd.json"
    export VK_DRIVER_FILES=$T/nvidia_icd.json
    echo "gpu-check: VK_DRIVER_FILES=$T/nvidia_icd.json (made for $glx)"
  fi
fi

step "r1vk info"
timeout -k 10 60 "$B/r1vk" info > "$T/info.txt" 2>&1 || { cat "$T/info.txt"; echo "gpu-check: r1vk info failed"; exit 3; }
cat "$T/info.txt"
if ! grep '^\* device.*GPU)' "$T/info.txt" >/dev/null && [[ -z ${GPU_CHECK_ANY_DEVICE:-} ]]; then
  echo "gpu-check: the default device is no GPU; what the Vulkan loader says:"
  VK_LOADER_DEBUG=error,warn,driver timeout -k 10 60 "$B/r1vk" info 2>&1 | tail -40
  exit 3
fi
if [[ -z $BW ]]; then
  # The default device's line ("* device 0: NVIDIA H100 80GB HBM3 (GPU)"): the card's nominal bandwidth.
  name=$(sed -n 's/^\* device [0-9]*: //p' "$T/info.txt" | head -1)
  case $name in
    *H200*) BW=4800 ;;
    *H100*PCIe*) BW=2000 ;;
    *H100*NVL*) BW=3900 ;;
    *H100*) BW=3350 ;;
    *) BW=4800; echo "gpu-check: no nominal bandwidth known for '$name': 4800 GB/s assumed (pass it as the argument)" ;;
  esac
  echo "gpu-check: nominal bandwidth $BW GB/s ($name)"
fi

step "bench: synthetic $MODEL, $ARGS --profile --bandwidth $BW"
# shellcheck disable=SC2086
timeout -k 10 $(( $(left) > 10 ? $(left) - 5 : 5 )) "$B/r1vk" bench --synthetic "$MODEL" $ARGS --profile \
  --bandwidth "$BW" --json > "$T/bench.json" 2> "$T/bench.err"
rc=$?
tail -5 "$T/bench.err"
[[ -n ${OUT:-} && -s "$T/bench.json" ]] && cp "$T/bench.json" "$OUT/bench.json"
if [[ $rc -ne 0 ]]; then echo "bench: exit $rc"; exit $rc; fi
python3 - "$BW" "$T/bench.json" <<'PY'
import json, sys
bw = float(sys.argv[1])
j = json.load(open(sys.argv[2]))
d, c, r = j["decode_gb_s"], j["copy_baseline_gb_s"], j["compute_read_baseline_gb_s"]
print(f'device {j["device"]}: prefill {j["prefill_tok_s"]["mean"]:.1f} tok/s, decode {j["decode_tok_s"]["mean"]:.2f} tok/s')
print(f'decode reads weights at {d:.0f} GB/s: {100*d/r:.0f} % of the compute-read baseline ({r:.0f} GB/s), '
      f'{100*d/c:.0f} % of vkCmdCopyBuffer ({c:.0f} GB/s read+write), {100*d/bw:.0f} % of nominal {bw:.0f} GB/s')
print(f'the baselines themselves: compute read {100*r/bw:.0f} %, copy {100*c/bw:.0f} % of nominal')
dec = j.get("profile", {}).get("decode", {})
ks = sorted(dec.get("kernels", {}).items(), key=lambda kv: -kv[1]["ns"])
tot = sum(v["ns"] for _, v in ks) or 1
print("decode GPU time by kernel:")
for k, v in ks[:10]:
    gbs = v["bytes_bound"] / v["ns"] if v["ns"] else 0
    print(f'  {k:28s} {100*v["ns"]/tot:5.1f} %  {v["ns"]/1e6/max(1,dec.get("tokens",1)):.3f} ms/token  {gbs:.0f} GB/s bound')
PY

# The 14B's real sizes under the validation layer, briefly: on a GPU the 1.56 GB head is one
# allocation (lavapipe's binding limit splits it), a path no lavapipe run takes.
if (( $(left) > 60 )); then
  step "bench under the validation layer: synthetic $MODEL, 2 layers"
  R1VK_VALIDATION=1 timeout -k 10 50 "$B/r1vk" bench --synthetic "$MODEL" --layers 2 -p 16 -n 4 -r 1 \
    > "$T/val.out" 2> "$T/val.err"
  echo "bench with validation: exit $?, $(grep -c -E 'VUID|Validation' "$T/val.err") validation messages"
  grep -E 'VUID|Validation' "$T/val.err" | head -5
fi

step "gpu tests (every kernel against its C++ twin, under the Khronos validation layer)"
if ! ls /usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json >/dev/null 2>&1; then
  echo "(no Khronos validation layer here: the gpu tests insist on it and will say so; put the"
  echo " vulkan-validationlayers deb into .gl/ beside the loader's to run them)"
fi
if [[ -z ${GPU_CHECK_SKIP_TESTS:-} ]] && (( $(left) <= 30 )); then
  echo "gpu tests: skipped, $(left) s left"
elif [[ -z ${GPU_CHECK_SKIP_TESTS:-} ]]; then
  # Each test's line, not only the failures: a timeout still shows how far they got.
  timeout -k 10 $(( $(left) > 270 ? 180 : $(left) * 2 / 3 )) "$B/tests/r1vk_gpu_tests" > "$T/tests.txt" 2>&1
  rc=$?
  grep -E '^\[ +(OK|FAILED) +\]|^\[  PASSED|^\[==========\]|Failure|device:' "$T/tests.txt" | grep -v '^\[ *OK' | tail -40
  echo "gpu tests: $(grep -c '^\[       OK' "$T/tests.txt") passed, $(grep -c '^\[  FAILED  \] [A-Za-z]' "$T/tests.txt") failed, exit $rc"
  [[ -n ${OUT:-} ]] && cp "$T/tests.txt" "$OUT/gpu-tests.txt"
fi

# One decode-only bench of a pair; prints its line, or why it failed. Skipped under 45 s left.
pair() {  # label file-stem python-format args...
  local label=$1 stem=$2 fmt=$3; shift 3
  if (( $(left) < 45 )); then echo "$label: skipped, $(left) s left"; return; fi
  # shellcheck disable=SC2068
  timeout -k 10 40 "$B/r1vk" bench --synthetic "$MODEL" $@ --json > "$T/$stem.json" 2> "$T/$stem.err"
  local rc=$?
  if (( rc != 0 )); then echo "$label: exit $rc"; tail -5 "$T/$stem.err"; return; fi
  python3 -c "import json,sys; j=json.load(open(sys.argv[1])); d=j['decode_tok_s']; print($fmt)" "$T/$stem.json"
}
# --lm-head q8 (half the head's bytes: 0.78 of the 14B's 8.37 GB a token) against the fp16 head, same
# shapes, interleaved in this run; short decode-only runs, only if the budget still allows them.
if (( $(left) > 90 )); then
  step "bench: --lm-head f16 vs q8, synthetic $MODEL, $Q8_ARGS"
  for h in f16 q8 f16 q8; do
    pair "lm_head $h" "head-$h" \
      "f\"lm_head {j['lm_head']}: decode {d['mean']:.2f} ± {d['sd']:.2f} tok/s, {j['weight_bytes_per_token']/1e9:.2f} GB/token, {j['decode_gb_s']:.0f} GB/s\"" \
      $Q8_ARGS --lm-head $h
  done
fi
# --activations q8 (int8 x blocks and integer dot products in the int4 matvecs: v_dot4 / dp4a) against
# fp32 x, same shapes, interleaved: whether the int4 layers were ALU-bound on this GPU.
if (( $(left) > 90 )); then
  step "bench: --activations f32 vs q8, synthetic $MODEL, $Q8_ARGS"
  for x in f32 q8 f32 q8; do
    pair "activations $x" "act-$x" \
      "f\"activations {j['activations']}: decode {d['mean']:.2f} ± {d['sd']:.2f} tok/s, {j['decode_gb_s']:.0f} GB/s\"" \
      $Q8_ARGS --activations $x
  done
fi
# --kv-cache q8 (132 B a cache row instead of 256) against fp16 at a depth where decode streams the
# cache (16384 positions: 3.2 GB of fp16 K/V for the 14B beside its 8.4 GB of weights), interleaved.
KV_ARGS=${GPU_CHECK_KV_ARGS:--p 8 -n 32 -r 2 -d 16384 -c 16448}
if (( $(left) > 60 )); then
  step "bench: --kv-cache f16 vs q8, synthetic $MODEL, $KV_ARGS"
  for kv in f16 q8 f16 q8; do
    pair "kv_cache $kv" "kv-$kv" \
      "f\"kv_cache {j['kv_cache']}: decode {d['mean']:.2f} ± {d['sd']:.2f} tok/s at depth\"" \
      $KV_ARGS --kv-cache $kv
  done
fi
echo
echo "gpu-check: done ($(left) s left)"
