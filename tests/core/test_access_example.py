"""examples/access_policy.py runs offline: the coder's attempt on the vault is refused."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "access_policy.py"


async def test_the_example_keeps_the_coder_out_of_the_vault() -> None:
    spec = importlib.util.spec_from_file_location("access_policy_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    answer = await module.main()
    assert answer.startswith("code for 'a parser' (vault refused: the access policy does not")
    assert "'vault'" in answer
