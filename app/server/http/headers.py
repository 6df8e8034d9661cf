"""The gateway's own response headers.

Example:
    >>> route_header("task → gpt-4o-mini")
    'task %E2%86%92 gpt-4o-mini'
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["OVERHEAD_HEADER", "ROUTE_HEADER", "route_header"]

ROUTE_HEADER = "x-modelyard-route"
"""The readable route reason of a non-streamed answer (percent-encoded to stay ASCII)."""
OVERHEAD_HEADER = "x-modelyard-overhead-ms"
"""Milliseconds the request spent in the gateway, upstream waits excluded."""
_HEADER_SAFE = " !#$&'()*+,/:;=?@[]~<>"


def route_header(reason: str) -> str:
    """``reason`` as an ASCII-safe header value (non-ASCII and controls percent-encoded)."""
    return quote(reason, safe=_HEADER_SAFE)
