#!/usr/bin/env python3
"""Two medvox binaries side by side on `medvox bench conv`, for a change that must not slow the
convolution engine down (a refactor, a compiler flag).

Runs the two binaries in alternation, ROUNDS times (A, B, then B, A, ...), each `bench conv --repeat 5
--json`, and prints per layer the median of B's time and of A's, and the median of the per-round
ratios B/A (pairing rounds cancels most of a shared machine's slow drift): for wall time, then
for CPU time (all threads; waiting for a core does not inflate it, so it is the steadier figure
when other work shares the cores). Check that the cores are idle first (`head -1 /proc/stat`
twice, a few seconds apart). Only the standard library.

Usage: .venv/bin/python3 Tools/bench/conv_ab.py --a OLD_MEDVOX --b NEW_MEDVOX [--rounds 8]
       [--isa avx2] [--case conv3d_64_64_32,...]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
from collections import defaultdict


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run(binary, isa, cases):
    env = dict(os.environ)
    if isa:
        env["MEDVOX_CONV_ISA"] = isa
    cmd = [binary, "bench", "conv", "--repeat", "5", "--json"] + (["--case", cases] if cases else [])
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        r = json.loads(line)
        rows[f"{r['op']} {r['cin']}->{r['cout']} @{r['size']}"] = r
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a", required=True, help="the binary before the change")
    p.add_argument("--b", required=True, help="the binary after the change")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--isa", help="MEDVOX_CONV_ISA for both (e.g. avx2)")
    p.add_argument("--case", help="only these layers (bench conv --case)")
    a = p.parse_args()
    times = defaultdict(lambda: defaultdict(list))
    ratios = defaultdict(lambda: defaultdict(list))
    isa_seen = set()
    for i in range(a.rounds):
        # A first in even rounds, B first in odd ones, so neither always runs on the other's heels.
        if i % 2 == 0:
            ra, rb = run(a.a, a.isa, a.case), run(a.b, a.isa, a.case)
        else:
            rb, ra = run(a.b, a.isa, a.case), run(a.a, a.isa, a.case)
        for layer in ra.keys() & rb.keys():
            isa_seen.add(rb[layer]["isa"])
            for pass_ in ("forward_ms", "backward_ms", "forward_cpu_ms", "backward_cpu_ms"):
                times[layer][("a", pass_)].append(ra[layer][pass_])
                times[layer][("b", pass_)].append(rb[layer][pass_])
                ratios[layer][pass_].append(rb[layer][pass_] / ra[layer][pass_])
    print(f"{cpu_model()}, {os.cpu_count()} cores, kernels {', '.join(sorted(isa_seen))}, {a.rounds} rounds")
    med = statistics.median
    for what, fwd, bwd in (("wall", "forward_ms", "backward_ms"), ("CPU", "forward_cpu_ms", "backward_cpu_ms")):
        print(f"{what + ' time':22} {'fwd A ms':>9} {'fwd B ms':>9} {'B/A':>6}   {'bwd A ms':>9} {'bwd B ms':>9} {'B/A':>6}")
        for layer in sorted(times, key=lambda s: (s.split()[0], int(s.split()[1].split("->")[0]))):
            t, r = times[layer], ratios[layer]
            print(f"{layer:22} {med(t[('a', fwd)]):9.2f} {med(t[('b', fwd)]):9.2f} {med(r[fwd]):6.3f}   "
                  f"{med(t[('a', bwd)]):9.2f} {med(t[('b', bwd)]):9.2f} {med(r[bwd]):6.3f}")


if __name__ == "__main__":
    main()
