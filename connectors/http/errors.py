"""Refusals as JSON: every error the HTTP connector answers has a body saying why.

The body follows OpenAI's error shape, so OpenAI clients show the reason too::

    {"error": {"code": "invalid_json", "type": "invalid_request_error",
               "message": "body is not valid JSON: Expecting value (line 1 column 1)"}}

:func:`error_middleware` turns aiohttp's own HTTP exceptions (404, 405, 413 ...) into this
shape and any unexpected exception into a logged JSON 500, so no request, however
malformed, gets an HTML page or stops the server.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from agent_runner.http_server import ERROR_CODES, error_body

logger = logging.getLogger("connectors.http")

MAX_BODY_KEY = web.AppKey("max_body", int)
"""The app's body size limit, for the 413 message."""


class RequestError(Exception):
    """A refusal: answered as ``status`` with a JSON error body; never a server bug."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or ERROR_CODES.get(status, "error")
        self.details = list(details)
        self.headers = dict(headers or {})


def error_json(exc: RequestError) -> dict[str, Any]:
    """The JSON body answering ``exc`` (:func:`error_body`)."""
    return error_body(exc.status, exc.message, code=exc.code, details=exc.details)


def error_response(exc: RequestError) -> web.Response:
    response = web.json_response(error_json(exc), status=exc.status, headers=exc.headers)
    if exc.status == 408:  # the rest of a stalled body is not worth waiting for
        response.force_close()
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every failure with a JSON error body; log only real server bugs."""
    try:
        return await handler(request)
    except RequestError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        reason = exc.reason or "error"
        if exc.status == 413:
            reason = f"request body is larger than the limit of {request.app[MAX_BODY_KEY]} bytes"
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return web.json_response(error_body(exc.status, reason), status=exc.status, headers=headers)
    except HttpProcessingError as exc:  # a malformed body (chunked framing, length)
        logger.info("malformed request body from %s: %s", request.remote, exc.message)
        return error_response(RequestError(400, f"malformed request body: {exc.message}"))
    except ConnectionError as exc:  # the client went away mid-request
        logger.info("client %s went away during %s: %s", request.remote, request.path, exc)
        raise
    except Exception:
        logger.exception("unexpected error handling %s %s", request.method, request.path)
        return web.json_response(error_body(500, "internal server error (logged)"), status=500)


__all__ = [
    "MAX_BODY_KEY",
    "RequestError",
    "error_body",
    "error_json",
    "error_middleware",
    "error_response",
]
