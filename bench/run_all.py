"""Run every benchmark under bench/ in turn (``make bench``). Each prints its own table and ratios.

Usage: ``python bench/run_all.py [--quick]``; extra arguments are passed to every benchmark.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    "bench_core.py",
    "bench_runner.py",
    "bench_store.py",
    "bench_http.py",
    "bench_distributed.py",
    "bench_discord.py",
    "bench_llm.py",
    "bench_mcp.py",
]


def main() -> int:
    scripts = [HERE / name for name in ORDER if (HERE / name).exists()]
    scripts += sorted(p for p in HERE.glob("bench_*.py") if p.name not in ORDER)
    failed = 0
    for script in scripts:
        print(f"\n=== {script.name}", flush=True)
        result = subprocess.run([sys.executable, str(script), *sys.argv[1:]], check=False)
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
