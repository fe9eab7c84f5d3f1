"""`agent-runner check` refuses an operator endpoint on a public address without a token."""

from __future__ import annotations

import pytest

from agent_runner import cli
from agent_runner.observability import AdminSettings, is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)
    assert AdminSettings(host=host).problem() is None


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "example.org"])
def test_public_hosts_need_a_token(host: str) -> None:
    assert not is_loopback(host)
    assert "AGENT_RUNNER_ADMIN_TOKEN" in (AdminSettings(host=host, port=8081).problem() or "")
    assert AdminSettings(host=host, port=8081, token="t").problem() is None
    assert AdminSettings(host=host, port=0).problem() is None  # off


def test_check_refuses_a_public_admin_host_without_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HTTP_PORT", "0")
    monkeypatch.setenv("AGENT_RUNNER_ADMIN_PORT", "8081")
    monkeypatch.setenv("AGENT_RUNNER_ADMIN_HOST", "0.0.0.0")
    assert cli.main(["check"]) != 0
    assert "AGENT_RUNNER_ADMIN_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("AGENT_RUNNER_ADMIN_TOKEN", "a-long-secret")
    assert cli.main(["check"]) == 0
    out = capsys.readouterr().out
    assert "http://0.0.0.0:8081 (public, token set)" in out
    assert "a-long-secret" not in out
