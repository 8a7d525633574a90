#!/usr/bin/env python3
"""scripts/gpu-check.sh in the dry run its header documents (small shapes, the gpu tests skipped, since
ctest runs them), on this machine's Vulkan device: it must run through every section, leave its log and
bench.json in $OUT, print decode against the baselines and the three int8 options' pairs, and remove
its temporary files. Runs with the validation layer (R1VK_VALIDATION from ctest). A .gl/ of its own
holds one library this machine lacks (a copy under a new soname): the script must link it for the run.
Usage: check_gpu_check.py SOURCE_DIR BUILD_DIR"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from e2e_check import check, failures


def main():
    src, build = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="r1vk-gpu-check-")
    try:
        out, tmp = os.path.join(work, "out"), os.path.join(work, "tmp")
        os.mkdir(out)
        os.mkdir(tmp)
        gl = os.path.join(work, "gl")
        os.makedirs(os.path.join(gl, "lib"))
        shutil.copy(os.path.realpath("/lib/x86_64-linux-gnu/libz.so.1"), os.path.join(gl, "lib", "libr1vkfake.so.7"))
        env = dict(os.environ, OUT=out, TMPDIR=tmp, GPU_CHECK_BUILD=build, GPU_CHECK_MODEL="qwen2.5-0.5b",
                   GPU_CHECK_GL=gl, GPU_CHECK_ANY_DEVICE="1",
                   GPU_CHECK_ARGS="--layers 2 -p 8 -n 2 -r 1", GPU_CHECK_SKIP_TESTS="1",
                   GPU_CHECK_Q8_ARGS="--layers 2 -p 8 -n 4 -r 1",
                   GPU_CHECK_KV_ARGS="--layers 2 -p 8 -n 4 -r 1 -d 512 -c 600")
        p = subprocess.run(["bash", os.path.join(src, "scripts", "gpu-check.sh"), "50"], capture_output=True,
                           text=True, env=env, timeout=540)
        log = p.stdout + p.stderr
        print(log)
        check("exit 0", p.returncode == 0, f"exit {p.returncode}")
        for needle in ("== r1vk info", "decode reads weights at", "% of the compute-read baseline",
                       "decode GPU time by kernel:", "lm_head f16: decode", "lm_head q8: decode",
                       "activations f32: decode", "activations q8: decode", "kv_cache f16: decode",
                       "kv_cache q8: decode", "gpu-check: carried lib libr1vkfake.so.7",
                       "bench with validation: exit 0, 0 validation messages", "gpu-check: done"):
            check(f"prints '{needle}'", needle in log)
        check("no validation message", "VUID" not in log and "Validation Error" not in log)
        check("$OUT/gpu-check.log holds the output", os.path.exists(os.path.join(out, "gpu-check.log")) and
              "gpu-check: done" in open(os.path.join(out, "gpu-check.log")).read())
        try:
            j = json.load(open(os.path.join(out, "bench.json")))
            check("$OUT/bench.json: decode GB/s and both baselines", j["decode_gb_s"] > 0 and
                  j["compute_read_baseline_gb_s"] > 0 and j["copy_baseline_gb_s"] > 0, str(j)[:300])
        except (OSError, ValueError, KeyError) as e:
            check("$OUT/bench.json: decode GB/s and both baselines", False, repr(e))
        check("its temporary files are gone", os.listdir(tmp) == [], str(os.listdir(tmp)))
        # Without GPU_CHECK_ANY_DEVICE a CPU device is refused before anything is measured on it.
        env.pop("GPU_CHECK_ANY_DEVICE")
        p = subprocess.run(["bash", os.path.join(src, "scripts", "gpu-check.sh"), "50"], capture_output=True,
                           text=True, env=env, timeout=300)
        log = p.stdout + p.stderr
        check("on a device that is no GPU: exit 3, saying so, nothing benched",
              p.returncode == 3 and "the default device is no GPU" in log and "== bench" not in log,
              f"exit {p.returncode}: {log[-1500:]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        sys.exit(f"{len(failures)} failed: {failures}")
    print("all passed")


if __name__ == "__main__":
    main()
