"""discord.py, imported once without its import-time deprecation noise.

discord.py 2.x imports ``audioop`` (voice support) at import time, which warns with a
DeprecationWarning on Python 3.11-3.12; the connector never uses voice, and the warning
would fail test suites that turn warnings into errors.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*audioop.*", category=DeprecationWarning)
    import discord
    import discord.http

__all__ = ["discord"]
