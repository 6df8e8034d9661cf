"""What a consumer may see of an upstream failure: the attempt's error class, never the provider's text.

An attempt's error is ``"<ErrorClass>: <what the provider said>"`` (or the gateway's own words, such as
``in cooldown``). The provider's text can repeat a request, a masked key or internal host names, so it
is kept for the admin and the request log; a consumer key sees the class.

Example:
    >>> error_class("ProviderServerError: upstream db-7 says token sk-...abcd expired")
    'ProviderServerError'
    >>> reason_without_upstream_text("after a/d0 failed (ProviderServerError: x (y)), c/d1 failed (in cooldown)")
    'after a/d0 failed (ProviderServerError), c/d1 failed (in cooldown)'
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["error_class", "reason_without_upstream_text", "route_without_upstream_text"]

_FAILED = re.compile(r" failed \(([^:()]*):.*?\)(?=, \S+ failed \(|$)", re.DOTALL)
"""One failed attempt in a route reason (``routers.record``): ``m/d failed (Class: text)``, the last
item of the reason, attempts separated by ``, ``."""


def error_class(attempt_error: str) -> str:
    """The class (or the gateway's own words) of one attempt's ``error``, without the provider's text."""
    return attempt_error.partition(":")[0].strip()


def reason_without_upstream_text(reason: str) -> str:
    """A route reason with every failed attempt's provider text left out (its class kept)."""
    return _FAILED.sub(r" failed (\1)", reason) if " failed (" in reason else reason


def route_without_upstream_text(route: dict[str, Any]) -> dict[str, Any]:
    """A route record (``modelyard_route``) with every attempt's provider text left out (classes kept).

    Example:
        >>> route = {"reason": "answered by b/d0 after a/d0 failed (ProviderServerError: db-7 down)",
        ...          "attempts": [{"model": "a", "error": "ProviderServerError: db-7 down"}]}
        >>> route_without_upstream_text(route)["attempts"][0]["error"]
        'ProviderServerError'
    """
    shown = dict(route)
    if "reason" in shown:
        shown["reason"] = reason_without_upstream_text(str(shown["reason"]))
    if shown.get("attempts"):
        shown["attempts"] = [
            {**attempt, "error": error_class(str(attempt["error"]))} if attempt.get("error") else attempt
            for attempt in shown["attempts"]
        ]
    return shown
