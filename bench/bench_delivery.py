"""Delivery through SIGKILLs: the reply ledger's figures over thousands of messages.

A real bot process (``tests/runner/ledger_app.py``) sends every reply of every message to
two exactly- once webhook outputs, the fake Discord (exactly once: nonces) and the fake X
(reconciled); it is SIGKILLed ``--kills`` times at seeded send-path checkpoints in turn
(``claimed``: the reply is in the ledger, not sent; ``part``: a part reached the platform,
not recorded; ``recorded``; ``sent``: delivered, outcome not recorded), restarted on the
same SQLite file each time, and finally left to drain. Printed: replies owed, kept by the
receiver, lost, wrong, resends the receiver's ``Idempotency-Key`` dropped, the exactly-once
rate, and resends per restart.

The baseline is the behaviour this replaced (at-most-once claims: a reply claimed before
the kill is skipped as "already sent" after it): the ``claimed`` kills would each lose the
replies in flight. Here every one is resolved, so the rate is 1.0 with 0 lost.

Usage: ``python bench/bench_delivery.py [--quick] [--messages N] [--kills K] [--seed S]
[--webhooks-only]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.runner

from tests.runner.ledger_harness import crash_run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--webhooks-only", action="store_true", help="no Discord and X")
    args = parser.parse_args()
    messages, kills = (200, 4) if args.quick else (args.messages, args.kills)
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        figures = asyncio.run(
            crash_run(
                Path(tmp),
                messages=messages,
                kills=kills,
                seed=args.seed,
                within=3600,
                platforms=not args.webhooks_only,
            )
        )
        seconds = time.perf_counter() - began
    print(f"messages                 {figures.messages}")
    print(f"replies owed             {figures.expected}  (every reply x 2 outputs)")
    print(f"SIGKILLs (point:n)       {len(figures.kills)}  {' '.join(figures.kills)}")
    print(f"replies kept             {figures.kept}")
    print(f"lost                     {figures.lost}")
    print(f"wrong text               {figures.wrong}")
    per_restart = figures.resent / max(1, figures.restarts)
    print(f"resends dropped by key   {figures.resent}  ({per_restart:.1f} per restart)")
    print(f"exactly-once rate        {figures.exactly_once_rate:.4f}")
    failed = figures.lost or figures.wrong
    for name, platform in figures.platforms.items():
        what = "reconciliation lookups" if name == "x" else "creates answered by nonce"
        rate = (platform.kept - platform.duplicates) / platform.owed
        print(
            f"{name:<8} owed {platform.owed}, kept {platform.kept}, lost {platform.lost}, "
            f"duplicates {platform.duplicates}, exactly-once rate {rate:.4f}, {what} "
            f"{platform.lookups} ({platform.lookups / max(1, figures.restarts):.1f} per restart)"
        )
        failed = failed or platform.lost or platform.duplicates
    print(f"seconds                  {seconds:.1f}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
