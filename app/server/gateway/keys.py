"""Consumer API keys in memory: who is calling, may they, and what they used.

The :class:`KeyRing` loads every key once from :class:`store.api_keys_db.ApiKeysDB` into a dict
keyed by the SHA-256 of the secret, so checking a request is one hash and one lookup — no
database read. Its limits (requests and tokens per minute, the budget) are checked by a
:class:`~app.server.gateway.limits.LimitStore`: in this process by default
(:mod:`~app.server.gateway.limits_local`), in Redis across replicas with ``REDIS_URL``
(:mod:`~app.server.gateway.limits_redis`). Requests are counted when admitted; a call's estimate
is held at admission and its tokens and cost charged when it settles. A key whose window is full
is refused until enough of it has aged out (that wait is the ``Retry-After``); a key whose spend
has reached its budget is refused until the budget is raised. Spend is written to the key store
(:class:`~store.api_keys_db.ApiKeysDB`: a SQLite file, or ``DATABASE_URL`` shared by replicas) off the
hot path by one small thread (every ``flush_seconds`` while there is something to write, and on
:meth:`KeyRing.close`), so it survives a restart. A process killed outright (``kill -9``, OOM)
loses what was charged since its last write — at most ``flush_seconds`` of spend, plus a write
under way — and its keys may overshoot their budgets by that much after the restart; the request
log has the same window (``tests/integration/test_gateway_crash.py`` measures both).

The secrets are random 256-bit tokens, so a plain SHA-256 is enough to store them (a slow
password hash would only add milliseconds to every request).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from app.server.gateway.limits import Denial, KeyUsage, LimitStore, Reservation, seconds, usd
from app.server.gateway.limits_local import LocalLimits, RollingWindow
from store.api_keys_db import ApiKeysDB, StoredKey
from store.watch import watch

__all__ = [
    "ApiKey",
    "CreatedKey",
    "Reservation",
    "Denial",
    "KeyRing",
    "MISS_RECHECK_SECONDS",
    "RollingWindow",
    "hash_secret",
    "seconds",
    "usd",
]

log = logging.getLogger(__name__)

SECRET_PREFIX = "my-"


def hash_secret(secret: str) -> str:
    """The hex SHA-256 a secret is stored and looked up by."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey:
    """A key as the gateway holds it: the stored row (no secret), its spend, and the windows and
    holds the in-process limit store keeps on it (unused when the limits live in Redis).

    Example:
        >>> key = ApiKey(StoredKey("key_1", "team-a", "ab…", "my-AbCdE", ("m1",), rpm=10))
        >>> key.allows("m1"), key.allows("m2")
        (True, False)
    """

    __slots__ = ("requests", "reserved_tokens", "reserved_usd", "spent_usd", "stored", "tokens")

    def __init__(self, stored: StoredKey):
        self.stored = stored
        self.spent_usd = stored.spent_usd
        """What was written to the key store plus what this process charged since."""
        self.reserved_usd = 0.0
        """Estimated cost of the calls admitted and not yet settled (in-process store)."""
        self.reserved_tokens = 0
        self.requests = RollingWindow(stored.rpm) if stored.rpm else None
        self.tokens = RollingWindow(stored.tpm) if stored.tpm else None

    @property
    def id(self) -> str:
        return self.stored.id

    @property
    def allowed_models(self) -> tuple[str, ...]:
        return self.stored.allowed_models

    @property
    def service(self) -> str | None:
        """The one service a subscription key may call; ``None`` for a general key."""
        return self.stored.service

    @property
    def limited(self) -> bool:
        """Whether the key has any of ``rpm``, ``tpm`` or ``budget_usd`` (only then is a limit store asked)."""
        s = self.stored
        return s.budget_usd is not None or bool(s.rpm) or bool(s.tpm)

    def allows(self, model: str) -> bool:
        """Whether the key may call ``model`` (every model when it has no list)."""
        return not self.stored.allowed_models or model in self.stored.allowed_models

    def view(self, usage: KeyUsage) -> dict[str, Any]:
        """What a listing shows: settings, spend and this minute's use (``usage``) — never the hash."""
        s = self.stored
        return {
            "id": s.id,
            "name": s.name,
            "prefix": s.prefix,
            "allowed_models": list(s.allowed_models),
            "rpm": s.rpm,
            "tpm": s.tpm,
            "budget_usd": s.budget_usd,
            "spent_usd": usage.spent_usd,
            "created": s.created,
            "revoked_at": s.revoked_at,
            "service": s.service,
            "requests_last_minute": usage.requests_last_minute,
            "tokens_last_minute": usage.tokens_last_minute,
        }


@dataclass(frozen=True)
class CreatedKey:
    """A new key and its secret (the only time the secret exists outside the caller)."""

    key: ApiKey
    secret: str


MISS_RECHECK_SECONDS = 0.05
"""Least time between two change-counter reads caused by unknown secrets (:meth:`KeyRing.authenticate`)."""


class KeyRing:
    """Every consumer key of one gateway, checked in memory and persisted (a SQLite file or ``DATABASE_URL``).

    Args:
        target: the keys' SQLite file or database URL (created and migrated if missing).
        flush_seconds: longest a charged spend waits before it is written.
        refresh_seconds: how often the store's change counter is read for keys another process changed.
        limits: where the keys' limits are checked (default: this process, :class:`LocalLimits`).

    Example:
        >>> ring = KeyRing(tmp_path / "keys.sqlite")  # doctest: +SKIP
        >>> created = ring.create("team-a", rpm=60, budget_usd=5.0)  # doctest: +SKIP
        >>> key = ring.authenticate(created.secret)  # doctest: +SKIP
        >>> ring.admit(key) is None  # doctest: +SKIP
        True
    """

    def __init__(
        self,
        target: Path | str,
        flush_seconds: float = 0.5,
        refresh_seconds: float = 0.5,
        limits: LimitStore | None = None,
    ):
        self.db = ApiKeysDB(target)
        self.limits: LimitStore = limits or LocalLimits()
        self.flush_seconds = flush_seconds
        self.refresh_seconds = refresh_seconds
        """How often the store is checked for keys another process created, revoked or charged (one
        primary-key read of its change counter)."""
        self._lock = threading.Lock()
        self._by_id: dict[str, ApiKey] = {}
        self._by_hash: dict[str, ApiKey] = {}
        for stored in self.db.all():
            self._add(ApiKey(stored))
        self._pending: dict[str, float] = {}
        self._flushing: dict[str, float] = {}
        self._flushes = 0
        self._version = self.db.data_version()
        self._checked = time.monotonic()
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="modelyard-key-spend", daemon=True)
        self._thread.start()
        self.closed = False
        watch(self, "refresh", refresh_seconds, "modelyard-key-watch")  # other processes' changes, off the loop

    def _add(self, key: ApiKey) -> None:
        self._by_id[key.id] = key
        if key.stored.active:
            self._by_hash[key.stored.secret_sha256] = key

    # ---- the hot path ----------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        """Whether any key was ever created — here or by another process on the same store (seen within
        ``refresh_seconds``: a gateway that started open closes when the app issues the first key);
        revoking them all does not reopen the server."""
        return bool(self._by_id)

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key with this secret, or ``None`` (keys changed by another process are seen
        within ``refresh_seconds``).

        An unknown secret may be a key another process issued a moment ago (the app's Services page
        shows it and the caller pastes it at once): then the store's change counter is read now, at
        most every ``MISS_RECHECK_SECONDS`` — so a known key never costs a read, and a flood of wrong
        ones at most 20 reads a second."""
        digest = hash_secret(secret)
        key = self._by_hash.get(digest)
        if key is None and time.monotonic() - self._checked > MISS_RECHECK_SECONDS:
            self.refresh()
            key = self._by_hash.get(digest)
        return key

    def refresh(self) -> None:
        """Re-read the keys if another writer committed since the last look (the store's change counter
        moved; this ring's own spend flushes do not count — :meth:`flush` keeps up with them): new keys,
        revocations, limits and the spend flushed (this process's unflushed spend is kept on top)."""
        self._checked = time.monotonic()
        version = self.db.data_version()
        if version == self._version:
            return
        with self._lock:
            flushes = self._flushes
        stored_rows = self.db.all()
        with self._lock:
            # our own flush raced the read: the rows may or may not hold it, so spend waits a round
            settled = not self._flushing and self._flushes == flushes
            self._version = version if settled else -1
            for stored in stored_rows:
                key = self._by_id.get(stored.id)
                if key is None:
                    self._add(ApiKey(stored))
                    continue
                spent = key.spent_usd
                key.stored = stored
                key.spent_usd = stored.spent_usd + self._pending.get(stored.id, 0.0) if settled else spent
                if not stored.active:
                    self._by_hash.pop(stored.secret_sha256, None)

    def admit(self, key: ApiKey, now: float | None = None) -> Denial | None:
        """Check budget, requests and tokens per minute; count the request when it is admitted."""
        if not key.limited:
            return None
        return self.limits.admit(key, now)

    def reserve(self, key: ApiKey, tokens: int, cost_usd: float, now: float | None = None) -> Reservation | Denial:
        """Hold a call's estimated tokens and cost against the key's TPM and budget, or refuse it.

        A call is admitted while what was spent plus what is reserved is still under the limit, so
        concurrent calls overshoot a budget by at most one call's estimate (and its error).
        """
        return self.limits.reserve(key, tokens, cost_usd, now)

    async def aadmit(self, key: ApiKey) -> Denial | None:
        """:meth:`admit` for the gateway's requests: a shared store is awaited, not waited on."""
        if not key.limited:
            return None
        return await self.limits.aadmit(key)

    async def areserve(self, key: ApiKey, tokens: int, cost_usd: float, admit: bool = False) -> Reservation | Denial:
        """:meth:`reserve` for the gateway's requests; ``admit`` admits the request first, in the same
        round-trip to a shared store."""
        return await self.limits.areserve(key, tokens, cost_usd, admit)

    def settle(
        self, reservation: Reservation | None, key: ApiKey, tokens: int, cost_usd: float, now: float | None = None
    ) -> None:
        """Release ``reservation`` (if any) and charge what the call really used."""
        if key.limited and (reservation is not None or tokens > 0 or cost_usd > 0):
            self.limits.settle(reservation, key, max(0, tokens), max(0.0, cost_usd), now)
        if cost_usd <= 0:
            return
        with self._lock:
            key.spent_usd += cost_usd
            wake = not self._pending  # the writer sleeps while nothing is pending
            self._pending[key.id] = self._pending.get(key.id, 0.0) + cost_usd
        if wake:
            self._wake.set()

    def charge(self, key: ApiKey, tokens: int, cost_usd: float, now: float | None = None) -> None:
        """Account a finished call that held nothing: its tokens against the TPM window, its cost against the budget."""
        self.settle(None, key, tokens, cost_usd, now)

    # ---- administration --------------------------------------------------------------------
    def create(
        self,
        name: str,
        allowed_models: Iterable[str] = (),
        rpm: int | None = None,
        tpm: int | None = None,
        budget_usd: float | None = None,
        service: str | None = None,
    ) -> CreatedKey:
        """Issue a key (scoped to one ``service`` for a subscription); the returned secret is not kept anywhere."""
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        key_id = f"key_{secrets.token_hex(4)}"
        while key_id in self._by_id:
            key_id = f"key_{secrets.token_hex(4)}"
        stored = StoredKey(
            id=key_id,
            name=name,
            secret_sha256=hash_secret(secret),
            prefix=secret[:8],
            allowed_models=tuple(dict.fromkeys(allowed_models)),
            rpm=rpm,
            tpm=tpm,
            budget_usd=budget_usd,
            created=time.time(),
            service=service,
        )
        self.db.insert(stored)
        key = ApiKey(stored)
        self._add(key)
        return CreatedKey(key, secret)

    def keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first (as another process may have changed them)."""
        return list(self._by_id.values())

    def get(self, key_id: str) -> ApiKey | None:
        return self._by_id.get(key_id)

    def view(self, key: ApiKey) -> dict[str, Any]:
        """:meth:`ApiKey.view` of ``key`` with its use from the limit store."""
        return self._views([key])[0]

    def views(self) -> list[dict[str, Any]]:
        """:meth:`ApiKey.view` of every key, oldest first."""
        return self._views(self.keys())

    def _views(self, keys: list[ApiKey]) -> list[dict[str, Any]]:
        limited = [key for key in keys if key.limited]
        found = dict(zip((key.id for key in limited), self.limits.usage(limited), strict=True))
        return [key.view(found.get(key.id) or KeyUsage(None, None, key.spent_usd)) for key in keys]

    def revoke(self, key_id: str) -> ApiKey | None:
        """Revoke ``key_id`` at once (the next request with it gets 401); ``None`` if unknown."""
        key = self._by_id.get(key_id)
        if key is None:
            return None
        revoked_at = self.db.revoke(key_id)
        self._by_hash.pop(key.stored.secret_sha256, None)
        if key.stored.revoked_at is None:
            key.stored = replace(key.stored, revoked_at=revoked_at)
        return key

    def active_count(self) -> int:
        return len(self._by_hash)

    # ---- persistence -----------------------------------------------------------------------
    def flush(self) -> None:
        """Write the spend charged so far."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flushing = pending
        try:
            version = self.db.add_spend(pending)
        except Exception:  # keep it for the next try rather than lose it
            with self._lock:
                for key_id, amount in pending.items():
                    self._pending[key_id] = self._pending.get(key_id, 0.0) + amount
                self._flushing = {}
            raise
        with self._lock:
            self._flushing = {}
            self._flushes += 1
            if version is not None and version - 1 == self._version:
                self._version = version  # only our own write since the last read: nothing to re-read

    def close(self) -> None:
        """Stop the writer thread and write what is pending."""
        self.closed = True
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.flush()
        self.db.close()
        self.limits.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait()
            self._stopping.wait(self.flush_seconds)  # gather a little more before writing
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the spend stays pending: try again after the next pause
                log.exception("API keys: spend could not be written; retrying")
                self._wake.set()
