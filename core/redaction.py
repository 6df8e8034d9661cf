"""Connection URLs without their secrets, for messages and logs.

A ``DATABASE_URL`` or ``REDIS_URL`` may carry a password (``scheme://user:password@host/...``);
every error or log line that names the server it could not reach shows :func:`redacted` instead.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["redacted"]


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs.

    Example:
        >>> redacted("redis://user:secret@10.0.0.5:6379/0")
        'redis://user:***@10.0.0.5:6379/0'
        >>> redacted("postgresql+psycopg://app:p%40ss@db/modelyard")
        'postgresql+psycopg://app:***@db/modelyard'
        >>> redacted("sqlite:////tmp/keys.sqlite")
        'sqlite:////tmp/keys.sqlite'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
