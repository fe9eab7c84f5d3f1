"""examples/long_term_memory.py runs offline: remembered for Ada, recalled for Ada only."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "long_term_memory.py"


async def test_the_example_recalls_for_the_right_user_only(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("long_term_memory_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lines = await module.main(tmp_path)
    assert lines[1].endswith("bot: How about an apple? (I remember you are allergic to peanuts.)")
    assert lines[2].endswith("bot: How about some peanut butter toast?")
    assert lines[3] == "(forgot 1 record(s) of ada)"
