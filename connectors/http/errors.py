"""Refusals as JSON: every error the HTTP connector answers has a body saying why.

The body follows OpenAI's error shape, so OpenAI clients show the reason too::

    {"error": {"code": "invalid_json", "type": "invalid_request_error",
               "message": "body is not valid JSON: Expecting value (line 1 column 1)"}}

:func:`error_middleware` turns aiohttp's own HTTP exceptions (404, 405, 413 ...) into this
shape and any unexpected exception into a logged JSON 500, so no request, however
malformed, gets an HTML page or stops the server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

logger = logging.getLogger("connectors.http")

MAX_BODY_KEY = web.AppKey("max_body", int)
"""The app's body size limit, for the 413 message."""

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "unavailable_error",
    504: "timeout_error",
}

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_message",
    429: "rate_limited",
    500: "internal_error",
    503: "not_ready",
    504: "reply_timeout",
}


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
        self.code = code or _CODES.get(status, "error")
        self.details = list(details)
        self.headers = dict(headers or {})


def error_body(
    status: int, message: str, *, code: str | None = None, details: Sequence[Any] = ()
) -> dict[str, Any]:
    """The JSON body of an error answer."""
    error: dict[str, Any] = {
        "code": code or _CODES.get(status, "error"),
        "type": _TYPES.get(status, "invalid_request_error"),
        "message": message,
    }
    if details:
        error["details"] = _jsonable(details)
    return {"error": error}


def error_response(exc: RequestError) -> web.Response:
    return web.json_response(
        error_body(exc.status, exc.message, code=exc.code, details=exc.details),
        status=exc.status,
        headers=exc.headers,
    )


def _jsonable(value: Any) -> Any:
    """Pydantic error details may hold exceptions or bytes; keep only JSON-safe values."""
    return json.loads(json.dumps(value, default=str))


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
    except Exception:
        logger.exception("unexpected error handling %s %s", request.method, request.path)
        return web.json_response(error_body(500, "internal server error (logged)"), status=500)


__all__ = ["MAX_BODY_KEY", "RequestError", "error_body", "error_middleware", "error_response"]
