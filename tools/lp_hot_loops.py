#!/usr/bin/python3
"""What llvmpipe made of the kernels: the hot loops of a running r1vk, disassembled.

lavapipe compiles each pipeline to x86 at run time (gallivm/LLVM), and the release Mesa has no switch
that prints that code. This samples a running command with `perf`, finds the anonymous executable
mappings (the JIT code) that hold the samples, copies them out of the live process with `gdb`, and
disassembles them with `objdump`, so a kernel's inner loop can be read and counted:

    tools/lp_hot_loops.py -- build/r1vk bench --synthetic qwen2.5-0.5b -p 4 -n 400 -r 1

For each of the hottest regions it prints its share of the samples and its hot loops (a backward branch
and the code it jumps over; the hottest that do not overlap): instructions in the body, their share of
the samples, and a histogram of mnemonics. Annotated listings (samples per instruction) go to --out. Which region is which kernel is not
known to the JIT; match the shares against `r1vk bench --profile` (a kernel's region has about its share
of GPU time) and the loop against the shader. Needs linux-perf, gdb and binutils (Debian packages), and
a command that runs past --warmup + --seconds (decode with a large -n). perf's sampling clock skids, so
read the per-instruction counts as a neighbourhood, the loop totals as exact enough.
"""
import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

INSN = re.compile(r"\s*([0-9a-f]+):\s+(?:[0-9a-f]{2} )+\s*(\S.*)?$")
BRANCH = re.compile(r"j\w+\s+0x([0-9a-f]+)")


def jit_regions(pid):
    """Anonymous r-x mappings of the process: llvmpipe's JIT code."""
    regions = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 5 and parts[1].startswith("r-x"):  # no path: anonymous
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                regions.append((lo, hi))
    return regions


def disassemble(pid, lo, hi, path):
    subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", f"dump binary memory {path}.bin {lo:#x} {hi:#x}"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    out = subprocess.run(["objdump", "-D", "-b", "binary", "-m", "i386:x86-64", f"--adjust-vma={lo:#x}", f"{path}.bin"],
                         capture_output=True, text=True, check=True).stdout
    insns = []
    for line in out.splitlines():
        m = INSN.match(line)
        if m and m.group(2):
            insns.append((int(m.group(1), 16), m.group(2)))
    return insns


def hot_loops(insns, samples, min_share=0.05):
    """The hottest loops that do not overlap (a loop is a backward branch and the code it jumps over),
    hottest first, each holding at least min_share of the samples given."""
    index = {a: i for i, (a, _) in enumerate(insns)}
    total = sum(samples.get(a, 0) for a, _ in insns)
    loops = []
    for i, (addr, text) in enumerate(insns):
        m = BRANCH.match(text)
        if m and int(m.group(1), 16) < addr and int(m.group(1), 16) in index:
            j = index[int(m.group(1), 16)]
            loops.append((sum(samples.get(a, 0) for a, _ in insns[j:i + 1]), j, i))
    taken = []
    # Innermost first among equals: a loop holding as many samples as the one around it is the hot one.
    for n, j, i in sorted(loops, key=lambda x: (-x[0], x[2] - x[1])):
        if n < min_share * total:
            break
        if all(i < tj or j > ti for _, tj, ti in taken):
            taken.append((n, j, i))
    return [(n, insns[j:i + 1]) for n, j, i in taken]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--warmup", type=float, default=12, help="seconds before sampling (model load, prefill)")
    ap.add_argument("--seconds", type=float, default=6, help="seconds of sampling")
    ap.add_argument("--top", type=int, default=4, help="regions to disassemble")
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "lp_hot_loops"),
                    help="folder for the annotated listings (default: lp_hot_loops in the temp folder)")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to sample")
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        ap.error("no command (give it after --)")
    missing = [t for t in ("perf", "gdb", "objdump") if shutil.which(t) is None]
    if missing:
        sys.exit(f"lp_hot_loops: {', '.join(missing)} not found (Debian: apt-get install linux-perf gdb binutils)")
    os.makedirs(a.out, exist_ok=True)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError as e:
        sys.exit(f"lp_hot_loops: {cmd[0]}: {e.strerror}")
    try:
        time.sleep(a.warmup)
        if proc.poll() is not None:
            sys.exit(f"lp_hot_loops: the command ended (exit {proc.returncode}) before sampling; give it more work")
        data = os.path.join(a.out, "perf.data")
        subprocess.run(["perf", "record", "-q", "-F", "4000", "-p", str(proc.pid), "-o", data, "--", "sleep", str(a.seconds)],
                       stdout=subprocess.DEVNULL, check=True)
        script = subprocess.run(["perf", "script", "-i", data, "-F", "ip"], capture_output=True, text=True, check=True).stdout
        samples = collections.Counter(int(x, 16) for x in script.split())
        total = sum(samples.values())
        regions = jit_regions(proc.pid)
        per_region = collections.Counter()
        for ip, n in samples.items():
            for lo, hi in regions:
                if lo <= ip < hi:
                    per_region[(lo, hi)] += n
                    break
        jit = sum(per_region.values())
        print(f"{total} samples, {100.0 * jit / max(total, 1):.1f} % in JIT code ({len(regions)} regions)")
        for rank, ((lo, hi), n) in enumerate(per_region.most_common(a.top)):
            path = os.path.join(a.out, f"region{rank}")
            insns = disassemble(proc.pid, lo, hi, path)
            with open(path + ".s", "w") as f:
                for addr, text in insns:
                    f.write(f"{samples.get(addr, 0):6d}  {addr:x}  {text}\n")
            print(f"\nregion {rank}: {lo:#x}-{hi:#x} ({(hi - lo) // 1024} KiB), {100.0 * n / total:.1f} % of samples -> {path}.s")
            for ln, body in hot_loops(insns, samples):
                hist = collections.Counter(t.split()[0] for _, t in body)
                print(f"  loop {body[0][0]:#x}-{body[-1][0]:#x}: {len(body)} instructions, "
                      f"{100.0 * ln / total:.1f} % of all samples")
                print("    " + ", ".join(f"{k} {v}" for k, v in hist.most_common(14)))
    except subprocess.CalledProcessError as e:
        sys.exit(f"lp_hot_loops: {e.cmd[0]} failed (exit {e.returncode}); perf needs kernel.perf_event_paranoid <= 2 "
                 "and gdb needs ptrace rights over the command")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()


if __name__ == "__main__":
    main()
