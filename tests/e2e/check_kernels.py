#!/usr/bin/env python3
"""r1vk info --kernels: on RADV's compile-only null device (RADV_FORCE_FAMILY=navi21, when Mesa's radeon
ICD is installed) every decode kernel is built and listed with a register count and zero spills; on the
default device (lavapipe here) the mode either prints statistics or says plainly the driver lacks
VK_KHR_pipeline_executable_properties. Runs with the validation layer (R1VK_VALIDATION from ctest)."""
import glob
import json
import os
import subprocess
import sys

from e2e_check import check, failures

# Every kernel a decoded token runs (shaders, not labels: the labels are for people).
DECODE_SHADERS = {"rmsnorm", "matvec_lanes", "matvec_lanes_f16", "matvec_lanes_norm", "matvec_lanes_rope", "rope_kv",
                  "attention_comb", "argmax", "topk", "trace", "penalty", "embed"}


def run(r1vk, *args, env=None):
    e = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    p = subprocess.run([r1vk, "info", "--kernels"] + list(args), capture_output=True, text=True, env=e, timeout=240)
    return p.returncode, p.stdout, p.stderr


def stat(exe, *names):
    for n in names:
        if n in exe["statistics"]:
            return exe["statistics"][n]
    return None


def main():
    r1vk = sys.argv[1]
    icd_dirs = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d"]
    radeon = any(glob.glob(os.path.join(d, "radeon_icd*.json")) for d in icd_dirs)
    if not radeon:
        print("skip: no radeon ICD (mesa-vulkan-drivers' RADV) installed, so no null AMD device to compile for")
    else:
        rc, out, err = run(r1vk, "--json", env={"RADV_FORCE_FAMILY": "navi21"})
        check("radv null: exit 0, no validation message", rc == 0 and "validation" not in err, f"rc={rc} stderr={err[-2000:]}")
        j = json.loads(out) if rc == 0 else {}
        dev = j.get("device", {})
        check("radv null: the compile-only device was used", dev.get("driver") == "radv" and dev.get("runnable") is False,
              str(dev))
        check("radv null: statistics available", j.get("statistics_available") is True, str(j.get("message")))
        decode = [p for p in j.get("pipelines", []) if p["phase"] == "decode"]
        seen = {p["shader"] for p in decode}
        check("radv null: every decode kernel listed", DECODE_SHADERS <= seen, f"missing {DECODE_SHADERS - seen}")
        for p in decode:
            exes = p["executables"]
            name = f'{p["shader"]} {p["spec"]} ({p["label"]})'
            regs = [stat(e, "VGPRs") for e in exes]
            spills = [(stat(e, "Spilled VGPRs"), stat(e, "Spilled SGPRs")) for e in exes]
            check(f"radv null: {name}: registers", exes and all(r is not None and r > 0 for r in regs), str(exes))
            check(f"radv null: {name}: no spills", exes and all(s == (0, 0) for s in spills), str(spills))

    # The default device (lavapipe in CI): statistics, or a plain statement that there are none.
    env = {"RADV_FORCE_FAMILY": None}
    rc, out, err = run(r1vk, "--json", env=env)
    check("default device: exit 0, no validation message", rc == 0 and "validation" not in err, f"rc={rc} {err[-2000:]}")
    j = json.loads(out) if rc == 0 else {}
    pipes = j.get("pipelines", [])
    check("default device: decode pipelines built", any(p["phase"] == "decode" for p in pipes), out[:500])
    if j.get("statistics_available"):
        check("default device: statistics per pipeline", all(p["executables"] for p in pipes))
    else:
        check("default device: says the driver lacks the extension",
              "does not expose VK_KHR_pipeline_executable_properties" in j.get("message", ""), str(j.get("message")))
        rc, out, err = run(r1vk, env=env)
        check("default device, text: says so plainly",
              rc == 0 and "does not expose VK_KHR_pipeline_executable_properties" in out, out[:500] + err[-500:])
    if failures:
        print(f"{len(failures)} failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
