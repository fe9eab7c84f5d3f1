"""Where the CPU goes: a summary of py-spy's raw (folded) stacks.

``bench_http.py --profile DIR`` and ``bench_runner.py --profile DIR`` write one file of folded
stacks per server or case (``py-spy record --format raw``: one line per distinct stack,
``frame;frame;...;leaf count``, frames as ``function (file:line)``). This prints, per file:

- **by kind of work**: each sample goes to the first rule that matches its frames, from the
  leaf up (validation, JSON, SQLite in its thread, the hop to that thread, aiohttp, logging,
  the asyncio loop itself, ...);
- **by our module**: each sample goes to the frame of ours (``agent_runner/``,
  ``connectors/``, ``examples/``) nearest the leaf, i.e. which of our modules made the call
  that burns the CPU;
- **top functions**: self share (the leaf) and inclusive share (anywhere on the stack).

Usage: ``python bench/profile_summary.py FILE... [--top N] [--merge]`` (``--merge``: one
summary of all the files, e.g. every round of one case).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]+)(?::\d+)?\)$")

# (kind, pattern on "file function"), first match from the leaf up wins.
KINDS: list[tuple[str, re.Pattern[str]]] = [
    ("validation (pydantic)", re.compile(r"^pydantic|model_validate|model_dump|pydantic_core")),
    ("JSON", re.compile(r"^json/|orjson|msgspec")),
    ("SQLite statements (store thread)", re.compile(r"^agent_runner/store/_sqlite|sqlite3")),
    (
        "SQLite thread hop + group commit",
        re.compile(r"^agent_runner/store/_group_commit|^concurrent/futures|^threading"),
    ),
    ("logging", re.compile(r"^logging/")),
    ("uuid / os.urandom", re.compile(r"^uuid|urandom")),
    ("aiohttp / multidict / yarl", re.compile(r"^(aiohttp|multidict|yarl)/")),
    ("short-term memory", re.compile(r"^agent_runner/memory\.py")),
    ("store (in-memory)", re.compile(r"^agent_runner/store/")),
    ("mailboxes", re.compile(r"^agent_runner/(runner/mailboxes|_dispatch)")),
    ("core runtime (send_message, delivery)", re.compile(r"^agent_runner/core/")),
    ("runner (other)", re.compile(r"^agent_runner/(runner/|_)")),
    ("connectors", re.compile(r"^connectors/")),
    ("asyncio (loop, tasks, futures, timeouts)", re.compile(r"^asyncio/|^selectors")),
    ("the benchmark itself", re.compile(r"^bench/|^examples/")),
]
OURS = re.compile(r"^(agent_runner|connectors|examples)/")


def stacks(path: Path) -> Iterator[tuple[list[tuple[str, str]], int]]:
    """``([(file, function), ...] root first, count)`` per line of a raw py-spy file."""
    for line in path.read_text().splitlines():
        body, _, count = line.rpartition(" ")
        if not body or not count.isdigit():
            continue
        frames = []
        for part in body.split(";"):
            match = FRAME.match(part)
            if match is not None:
                frames.append((match["file"], match["func"]))
            else:
                frames.append((part, part))
        yield frames, int(count)


def kind_of(frames: list[tuple[str, str]]) -> str:
    for file, func in reversed(frames):
        text = f"{file} {func}"
        for kind, pattern in KINDS:
            if pattern.search(text):
                return kind
    return "other"


def ours_of(frames: list[tuple[str, str]]) -> str:
    for file, _ in reversed(frames):
        if OURS.match(file):
            return file
    return "(none of ours: event loop, server or library)"


def summarise(paths: list[Path], top: int) -> str:
    total = 0
    kinds: Counter[str] = Counter()
    owners: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in (item for path in paths for item in stacks(path)):
        total += count
        kinds[kind_of(frames)] += count
        owners[ours_of(frames)] += count
        file, func = frames[-1]
        own[f"{func} ({file})"] += count
        for name in {f"{func} ({file})" for file, func in frames}:
            inclusive[name] += count
    names = ", ".join(path.name for path in paths)
    if not total:
        return f"{names}: no samples"
    lines = [f"== {names}: {total} samples"]

    def block(title: str, counter: Counter[str], n: int) -> None:
        lines.append(f"  {title}")
        for name, count in counter.most_common(n):
            lines.append(f"    {count / total:>6.1%}  {name}")

    block("by kind of work (first match from the leaf up)", kinds, len(kinds))
    block("by our module nearest the leaf", owners, top)
    block("self (leaf function)", own, top)
    block("inclusive (on the stack)", inclusive, top + 10)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--merge", action="store_true", help="one summary of all the files")
    args = parser.parse_args()
    for group in [args.files] if args.merge else [[path] for path in args.files]:
        print(summarise(group, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
