"""The HTTP connector: a JSON API and an OpenAI-compatible endpoint for your agent.

- :mod:`~connectors.http.connector`: :class:`HTTPConnector`, the server and its routes.
- :mod:`~connectors.http.settings`: :class:`HTTPSettings` (``HTTP_*``).
- Behind them: ``admission`` (rate limit, size limit, ``auth``), ``messages`` (the
  ``/v1/messages`` body and answer), ``openai`` and ``stream`` (chat completions, SSE),
  ``pending`` (requests waiting for their replies), ``callbacks`` (replies POSTed to a
  ``callback_url``, shared with :mod:`connectors.webhook`), ``errors`` (refusals as JSON).

Example:
    >>> from connectors.http import HTTPConnector
    >>> http = HTTPConnector.from_env()      # HTTP_HOST, HTTP_PORT, HTTP_AUTH_TOKEN ...
"""

from connectors.http.connector import HTTPConnector
from connectors.http.settings import HTTPSettings

__all__ = ["HTTPConnector", "HTTPSettings"]
