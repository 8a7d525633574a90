#!/usr/bin/env python3
"""Measures r1vk-chat under Xvfb: frame times while replies stream, launch to first frame, and the
window's CPU use at rest (from /proc over 5 s). Not a ctest (the numbers depend on the machine).

usage: tests/ui/measure.py [build/r1vk-chat]
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xvfb import Xvfb  # noqa: E402

APP = sys.argv[1] if len(sys.argv) > 1 else "build/r1vk-chat"
PROMPTS = ["What is 4738 + 2591?", "What is 904 - 12345?", "Compute 77+5", "What is 31337 + 4242?",
           "What is 99999 - 1?"]


def ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


with tempfile.TemporaryDirectory() as tmp:
    state = os.path.join(tmp, "state.json")
    args = [APP, "--data-dir", os.path.join(tmp, "data"), "--temp", "0", "--quit-when-done", "--state", state,
            "--stay", "8"]
    for p in PROMPTS:
        args += ["--prompt", p]
    with Xvfb() as xenv:
        proc = subprocess.Popen(args, env=xenv)
        pid = proc.pid
        # Wait until the last reply is saved (each finished reply is written), then let the frames settle.
        convs = os.path.join(tmp, "data", "conversations")
        t_start = time.time()
        while True:
            if proc.poll() is not None or time.time() - t_start > 600:
                proc.kill()
                sys.exit(f"measure.py: the app ended (exit {proc.poll()}) or took over 600 s before every reply was saved")
            done = 0
            for f in os.listdir(convs) if os.path.isdir(convs) else []:
                if f.endswith(".json"):
                    try:
                        msgs = json.load(open(os.path.join(convs, f)))["messages"]
                        done = sum(1 for m in msgs if m["role"] == "assistant" and m["branches"][-1]["done"])
                    except (ValueError, KeyError, IndexError):
                        pass
            if done >= len(PROMPTS):
                break
            time.sleep(0.1)
        time.sleep(1.0)
        a, t0 = ticks(pid), time.time()
        time.sleep(5)
        b, t1 = ticks(pid), time.time()
        hz = os.sysconf("SC_CLK_TCK")
        proc.wait()
    s = json.load(open(state))
    print(json.dumps({
        "frames_while_streaming_ms": s["frames"],
        "frame_interval_while_streaming_ms": s["frames_interval"],
        "imgui_build_ms": s["frames_build"],
        "startup": s["startup"],
        "idle_cpu_percent": round(100.0 * (b - a) / hz / (t1 - t0), 2),
        "load_average": os.getloadavg(),
    }, indent=1))
