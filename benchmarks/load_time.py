"""Time `%load_ext nbml` in fresh processes and confirm it imports neither torch nor optuna.

    python benchmarks/load_time.py [--repeats 7]      bar: median <= 0.5 s
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

CODE = """
import sys, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
start = time.perf_counter()
ip.run_line_magic("load_ext", "nbml")
took = time.perf_counter() - start
print(took, *[m for m in ("torch", "optuna", "sklearn", "pandas", "matplotlib") if m in sys.modules])
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    times, heavy = [], set()
    for _ in range(args.repeats):
        out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True).stdout.split()
        times.append(float(out[0]))
        heavy |= set(out[1:])
    print(f"%load_ext nbml: median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms "
          f"over {args.repeats} fresh processes (bar: 500 ms)")
    print("heavy modules imported by %load_ext:", ", ".join(sorted(heavy)) or "none (torch, optuna, sklearn, "
          "pandas, matplotlib all left unimported)")
    return 0 if statistics.median(times) <= 0.5 and not heavy & {"torch", "optuna"} else 1


if __name__ == "__main__":
    sys.exit(main())
