"""Offline test doubles that speak real platform protocols, for testing bots without keys.

- :mod:`agent_runner.testing.discord`: a fake Discord (REST v10 + gateway websocket).
- :mod:`agent_runner.testing.x`: a fake X API v2 (mentions, tweets, OAuth 1.0a checks).
- :mod:`agent_runner.testing.webhook`: a webhook / callback receiver that keeps the first
  POST of each ``Idempotency-Key`` and records every one.

Each is a package (the server, its protocol pieces behind a curated ``__init__``) that
starts on 127.0.0.1 on a free port; point the connector's API base at it.
"""

__all__: list[str] = []
