"""``agent-runner worker``: argument and module errors exit 2 with a clear log line."""

from __future__ import annotations

import pytest

from agent_runner.distributed import worker_command
from agent_runner.distributed._worker_cli import load_register
from agent_runner.errors import ConfigurationError
from tests.distributed import agents


def test_module_and_function_are_resolved() -> None:
    assert load_register("tests.distributed.agents") is agents.register
    assert load_register("tests.distributed.agents:register") is agents.register


@pytest.mark.parametrize(
    ("spec", "message"),
    [("no_such_module_xyz", "cannot import"), ("tests.distributed.agents:nope", "no function")],
)
def test_bad_modules_are_configuration_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_register(spec)


def test_exit_codes(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert worker_command(["tests.distributed.agents"]) == 2
    assert "REDIS_URL" in caplog.text
    url = "redis://127.0.0.1:1/0"
    assert worker_command(["no_such_module_xyz", "--redis-url", url]) == 2
    assert "cannot import" in caplog.text
