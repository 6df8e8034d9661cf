"""Literal credentials in a model's request headers: found here, so the registry never stores one.

A header that carries a key must take it from the environment at call time (``{API_KEY}``, filled
from the deployment's ``api_key_env``): a literal value would be written to the registry database
and shown by every listing of the spec (``GET /api/models``, the registry page, exports).
"""

from __future__ import annotations

import re

__all__ = ["literal_secret"]

_CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "apikey", "x-auth-token", "cookie"}
)
_SCHEMES = re.compile(r"(?i)^\s*(?:bearer|basic|token|apikey|key)?\s*$")
_TOKEN = re.compile(
    r"(?i)\b(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"
    r"|\b(?:sk|pk|rk|hf|ghp|gho|xox[abpr])[-_][A-Za-z0-9_-]{8,}"
    r"|\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{4,}"
)


def literal_secret(name: str, value: str) -> bool:
    """Whether header ``name: value`` holds a literal credential (``{API_KEY}`` placeholders do not count).

    A credential header (``Authorization``, ``x-api-key``, ``Cookie`` …) may hold only a scheme word
    around ``{API_KEY}``; any other header must not hold something shaped like a token.

    Example:
        >>> literal_secret("Authorization", "Bearer sk-live-0123456789")
        True
        >>> literal_secret("Authorization", "Bearer {API_KEY}"), literal_secret("x-team", "support")
        (False, False)
    """
    rest = value.replace("{API_KEY}", "")
    if name.strip().lower() in _CREDENTIAL_HEADERS:
        return not _SCHEMES.fullmatch(rest)
    return _TOKEN.search(rest) is not None
