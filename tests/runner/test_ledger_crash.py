"""Real SIGKILLs on the send path, real restarts on one SQLite file, a real receiver.

The bot (tests/runner/ledger_app.py) sends every reply to two exactly-once webhook outputs;
it is killed at seeded random send-path checkpoints and restarted until it drains. Every
reply of every message must be kept by the receiver exactly once, with the right text.
``bench/bench_delivery.py`` runs the same over 2,000 messages and more kills.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runner.ledger_harness import crash_run


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_sigkill_on_the_send_path_loses_and_duplicates_no_webhook_reply(
    tmp_path: Path,
) -> None:
    figures = await crash_run(tmp_path, messages=60, kills=4, seed=12, within=150)
    assert len(figures.kills) == 4
    assert {k.split(":")[0] for k in figures.kills} == {"claimed", "sent"}
    assert figures.lost == 0
    assert figures.wrong == 0
    assert figures.exactly_once_rate == 1.0


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_sigkill_on_the_send_path_loses_and_duplicates_nothing_on_discord_and_x(
    tmp_path: Path,
) -> None:
    """The same bot also posts every reply on the fake Discord (nonces) and the fake X
    (reconciled); kills land between a part reaching the platform and its record too."""
    figures = await crash_run(tmp_path, messages=30, kills=4, seed=3, within=200, platforms=True)
    assert [k.split(":")[0] for k in figures.kills] == ["claimed", "part", "recorded", "sent"]
    assert (figures.lost, figures.wrong) == (0, 0)
    for name in ("discord", "x"):
        platform = figures.platforms[name]
        assert (platform.lost, platform.duplicates) == (0, 0), name
