"""Pointing this process's OpenTelemetry exporter at a local receiver, and nothing else."""

from __future__ import annotations

import os

import pytest


def export_to(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Only ``OTEL_EXPORTER_OTLP_ENDPOINT=url`` among the ``OTEL_*`` variables (for the test)."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
