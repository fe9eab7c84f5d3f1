"""Request authentication for the HTTP connector: bearer tokens and HMAC-SHA256 signatures.

A signed request carries two headers::

    X-Timestamp: 1767225600                      (Unix seconds, when it was signed)
    X-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.".encode() + body)>

The timestamp must be within ``window`` seconds of the server's clock, so a captured request
cannot be replayed later. The webhook output signs what it posts the same way, so one
verifier serves both directions. Every comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
SIGNATURE_PREFIX = "sha256="
DEFAULT_WINDOW = 300.0
"""Seconds a signature's timestamp may differ from the receiver's clock."""


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` signed at ``timestamp``.

    Example:
        >>> sign("s3cret", "1700000000", b'{"text":"hi"}')[:7]
        'sha256='
    """
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def signature_headers(
    secret: str | bytes, body: bytes, *, now: float | None = None
) -> dict[str, str]:
    """Both headers of a signed request (timestamp = ``now`` or the current time)."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def check_signature(
    secret: str | bytes,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    window: float = DEFAULT_WINDOW,
) -> str | None:
    """Verify a signed request. None when valid, else the reason it is refused."""
    if not timestamp or not signature:
        return f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header"
    try:
        signed_at = float(timestamp)
    except ValueError:
        return f"{TIMESTAMP_HEADER} is not a Unix time in seconds"
    if not math.isfinite(signed_at):
        return f"{TIMESTAMP_HEADER} is not a Unix time in seconds"
    if abs(now - signed_at) > window:
        return f"{TIMESTAMP_HEADER} is outside the allowed window of {window:g} seconds"
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        return "signature does not match"
    return None


def check_bearer(token: str, authorization: str | None) -> str | None:
    """Verify an ``Authorization: Bearer <token>`` header. None when valid, else the reason."""
    if not authorization:
        return "missing Authorization header"
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return "Authorization header is not 'Bearer <token>'"
    if not hmac.compare_digest(token.encode(), value.strip().encode()):
        return "invalid bearer token"
    return None


@dataclass(frozen=True, slots=True)
class Authenticator:
    """Checks requests against the configured token and/or HMAC secret.

    With neither configured every request passes. With both, either a valid bearer token or
    a valid signature is enough.
    """

    token: str | None = None
    hmac_secret: str | None = None
    window: float = DEFAULT_WINDOW
    clock: Callable[[], float] = field(default=time.time)

    @property
    def enabled(self) -> bool:
        return bool(self.token or self.hmac_secret)

    def check(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """None when the request may pass, else the reason it is refused."""
        if not self.enabled:
            return None
        reasons: list[str] = []
        if self.token:
            reason = check_bearer(self.token, headers.get("Authorization"))
            if reason is None:
                return None
            reasons.append(reason)
        if self.hmac_secret:
            reason = check_signature(
                self.hmac_secret,
                timestamp=headers.get(TIMESTAMP_HEADER),
                signature=headers.get(SIGNATURE_HEADER),
                body=body,
                now=self.clock(),
                window=self.window,
            )
            if reason is None:
                return None
            reasons.append(reason)
        return "; ".join(reasons)


__all__ = [
    "DEFAULT_WINDOW",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Authenticator",
    "check_bearer",
    "check_signature",
    "sign",
    "signature_headers",
]
