"""OAuth 1.0a HMAC-SHA1 signatures (RFC 5849), recomputed by the fake X to check requests.

Pure functions of the request: the fake rebuilds the signature base string from the method,
the URL the client signed (scheme, ``Host`` header, path), the query and ``oauth_*`` parameters,
signs it with the secrets it knows and compares with what the client sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote

_PARAM = re.compile(r'\s*([A-Za-z0-9_\-.~%]+)\s*=\s*"([^"]*)"\s*,?')


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding as OAuth 1.0a requires (only ``A-Za-z0-9-._~`` kept)."""
    return quote(value, safe="~")


def parse_authorization(header: str) -> dict[str, str] | None:
    """The decoded parameters of an ``Authorization: OAuth ...`` header, or None."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "oauth":
        return None
    params: dict[str, str] = {}
    for match in _PARAM.finditer(rest):
        params[unquote(match.group(1))] = unquote(match.group(2))
    return params


def base_uri(scheme: str, host: str, path: str) -> str:
    """The base string URI: lowercase scheme and host, default port dropped, no query."""
    scheme = scheme.lower()
    host = host.lower()
    if (scheme == "https" and host.endswith(":443")) or (scheme == "http" and host.endswith(":80")):
        host = host.rsplit(":", 1)[0]
    return f"{scheme}://{host}{path}"


def signature_base_string(method: str, uri: str, params: Iterable[tuple[str, str]]) -> str:
    """``METHOD&uri&params`` with params encoded, sorted and joined (RFC 5849 3.4.1)."""
    encoded = sorted((percent_encode(k), percent_encode(v)) for k, v in params)
    normalized = "&".join(f"{k}={v}" for k, v in encoded)
    return "&".join((method.upper(), percent_encode(uri), percent_encode(normalized)))


def hmac_sha1_signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    """Base64 HMAC-SHA1 of ``base_string`` keyed with both secrets."""
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def sign(
    method: str,
    uri: str,
    query: Iterable[tuple[str, str]],
    oauth_params: dict[str, str],
    *,
    consumer_secret: str,
    token_secret: str,
) -> str:
    """The signature a client holding the secrets must have sent for this request."""
    params = [(k, v) for k, v in query]
    params += [(k, v) for k, v in oauth_params.items() if k not in ("oauth_signature", "realm")]
    return hmac_sha1_signature(
        signature_base_string(method, uri, params), consumer_secret, token_secret
    )


def signatures_match(expected: str, given: str) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(expected.encode(), given.encode())


__all__ = [
    "base_uri",
    "hmac_sha1_signature",
    "parse_authorization",
    "percent_encode",
    "sign",
    "signature_base_string",
    "signatures_match",
]
