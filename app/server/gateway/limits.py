"""The seam between the :class:`~app.server.gateway.keys.KeyRing` and where a key's limits live.

A :class:`LimitStore` enforces one key's requests per minute, tokens per minute and budget: it
counts a request when it is admitted, holds a call's estimated tokens and cost (a
:class:`Reservation`) until the call settles, then releases the hold and charges what was used.
Two stores implement it, chosen by :func:`open_limit_store` from the settings:

* ``local`` (:class:`~app.server.gateway.limits_local.LocalLimits`) — rolling windows in this
  process; the default, exactly the single-process behaviour.
* ``redis`` (:class:`~app.server.gateway.limits_redis.RedisLimits`, with ``REDIS_URL``) — the
  same windows and holds in Redis, checked and changed by Lua scripts, so every replica enforces
  one shared limit; the gateway's requests await redis-py's asyncio client (``aadmit``,
  ``areserve``), so a round-trip never blocks the event loop. Redis unreachable raises
  :class:`~core.errors.SharedStateUnavailable` (503):
  limits fail closed.

The refusal messages are built here, so both stores word them the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from prometheus_client import Counter

    from app.server.gateway.keys import ApiKey
    from app.server.gateway.settings import GatewaySettings

__all__ = [
    "LIMIT_STORES",
    "WINDOW_SECONDS",
    "Denial",
    "KeyUsage",
    "LimitStore",
    "Reservation",
    "budget_denial",
    "open_limit_store",
    "rpm_denial",
    "seconds",
    "tpm_denial",
    "usd",
]

WINDOW_SECONDS = 60.0
"""The length of the requests- and tokens-per-minute windows."""


def seconds(wait: float) -> int:
    """A wait as whole seconds for ``Retry-After`` (rounded up, at least 1)."""
    return max(1, math.ceil(wait))


def usd(amount: float) -> str:
    """``$0.0123``: enough digits for small amounts, none wasted on round ones."""
    return "$" + (f"{amount:.6f}".rstrip("0").rstrip(".") or "0")


@dataclass(frozen=True)
class Denial:
    """Why a valid key may not make a request now."""

    code: str
    """``rate_limit_exceeded`` or ``budget_exceeded``."""
    message: str
    retry_after: float | None = None
    """Seconds until the request would be admitted (rate limits only)."""


@dataclass(frozen=True)
class Reservation:
    """What an admitted call may cost at most, held against the key until the call settles."""

    key: ApiKey
    tokens: int
    usd: float
    ref: str = ""
    """The store's handle on the hold (Redis: the held entry), empty for the in-process store."""


@dataclass(frozen=True)
class KeyUsage:
    """A key's use as a listing shows it (``None``: the key has no such limit)."""

    requests_last_minute: int | None
    tokens_last_minute: int | None
    spent_usd: float


def budget_denial(key: ApiKey, spent: float, held: float | None = None) -> Denial:
    """402: ``spent`` (plus ``held`` for calls under way) has reached the key's budget."""
    s = key.stored
    if held is None:
        message = (
            f"key {s.id} has spent {usd(spent)} of its {usd(s.budget_usd or 0.0)} budget; "
            "ask the admin to raise budget_usd or issue a new key"
        )
    else:
        message = (
            f"key {s.id} has spent {usd(spent)} of its {usd(s.budget_usd or 0.0)} budget, with "
            f"{usd(held)} held for calls under way; ask the admin to raise budget_usd"
        )
    return Denial("budget_exceeded", message)


def rpm_denial(key: ApiKey, wait: float) -> Denial:
    """429: the key's requests-per-minute window is full for ``wait`` seconds."""
    message = f"key {key.id} is over its limit of {key.stored.rpm} requests per minute; retry in {seconds(wait)} s"
    return Denial("rate_limit_exceeded", message, wait)


def tpm_denial(key: ApiKey, used: int, wait: float, held: int | None = None) -> Denial:
    """429: ``used`` tokens in the last minute (plus ``held`` for calls under way) reach the key's TPM."""
    if held is None:
        detail = f"used {used} in the last 60 s"
    else:
        detail = f"used {used}, {held} held for calls under way"
    message = (
        f"key {key.id} is over its limit of {key.stored.tpm} tokens per minute ({detail}); retry in {seconds(wait)} s"
    )
    return Denial("rate_limit_exceeded", message, wait)


class LimitStore(Protocol):
    """Where a key's windows, holds and spend are kept and checked (see the module docstring).

    ``now`` is a clock reading for tests; ``None`` means the store's own clock. Stores are
    thread-safe. Only keys with a limit (``rpm``, ``tpm`` or ``budget_usd``) reach them.

    Example:
        >>> from app.server.gateway.limits_local import LocalLimits
        >>> store: LimitStore = LocalLimits()
        >>> store.usage([]) == []
        True
    """

    def admit(self, key: ApiKey, now: float | None = None) -> Denial | None:
        """Refuse a key over its budget, RPM or TPM; otherwise count the request."""
        ...

    def reserve(self, key: ApiKey, tokens: int, cost_usd: float, now: float | None = None) -> Reservation | Denial:
        """Hold a call's estimate while spent plus held stays under the budget and TPM, or refuse."""
        ...

    async def aadmit(self, key: ApiKey) -> Denial | None:
        """:meth:`admit` for the event loop: a store that waits on the network awaits it."""
        ...

    async def areserve(self, key: ApiKey, tokens: int, cost_usd: float, admit: bool = False) -> Reservation | Denial:
        """:meth:`reserve` for the event loop; with ``admit``, :meth:`admit` first, in the same
        round-trip (a chat request admitted when it is about to be served)."""
        ...

    def settle(
        self, reservation: Reservation | None, key: ApiKey, tokens: int, cost_usd: float, now: float | None = None
    ) -> None:
        """Release ``reservation`` (if any) and charge what the call used; never raises."""
        ...

    def usage(self, keys: list[ApiKey], now: float | None = None) -> list[KeyUsage]:
        """Each key's requests and tokens in the last minute and its spend."""
        ...

    def close(self) -> None:
        """Write what is queued and let go of connections."""
        ...


def _local(settings: GatewaySettings, counter: Counter | None = None) -> LimitStore:
    from app.server.gateway.limits_local import LocalLimits

    return LocalLimits()


def _redis(settings: GatewaySettings, counter: Counter | None = None) -> LimitStore:
    from app.server.gateway.limits_redis import RedisLimits

    if settings.redis_url is None:
        raise ValueError("the redis limit store needs GatewaySettings.redis_url (REDIS_URL)")
    return RedisLimits(settings.redis_url, prefix=settings.redis_prefix, counter=counter)


LIMIT_STORES: dict[str, Callable[[GatewaySettings, Counter | None], LimitStore]] = {
    "local": _local,
    "redis": _redis,
}
"""Limit stores by name: ``redis`` when ``REDIS_URL`` is set, else ``local``."""


def open_limit_store(settings: GatewaySettings, counter: Counter | None = None) -> LimitStore:
    """The limit store the settings choose; ``counter`` counts its Redis round-trips."""
    return LIMIT_STORES["redis" if settings.redis_url else "local"](settings, counter)
