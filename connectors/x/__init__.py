"""The X (Twitter) connector (``agent-runner[x]``): mentions in, replies and tweets out.

- :mod:`~connectors.x.connector`: :class:`XConnector`, input and output.
- :mod:`~connectors.x.settings`: :class:`XSettings` (``X_*``).
- :mod:`~connectors.x.errors`: :class:`DailyPostCapError`, and which failures are retried.
- :mod:`~connectors.x.session`: :func:`api_base_middleware` and :data:`X_HOSTS`, to point
  any tweepy client at a proxy or at :class:`agent_runner.testing.x.FakeX`.
- Behind them: ``api`` (the API calls, with rate-limit waits and retries), ``ratelimit``,
  ``mentions`` (mentions as runner messages), ``posting`` (threads, the daily cap, dry
  runs), ``text`` (X's weighted length, thread splitting), ``state`` (what survives a restart).

Example::

    from connectors.x import XConnector

    x = XConnector.from_env(poll_interval=60, daily_post_cap=50)
"""

from connectors.x.connector import XConnector
from connectors.x.errors import DailyPostCapError
from connectors.x.session import X_HOSTS, api_base_middleware
from connectors.x.settings import XSettings

__all__ = [
    "DailyPostCapError",
    "XConnector",
    "XSettings",
    "X_HOSTS",
    "api_base_middleware",
]
