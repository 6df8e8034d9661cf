"""Re-reading what other processes changed, in the background: :func:`watch`.

Replicas share keys, the registry and A/B experiment status through a database; each process
must see another's writes within a second. Checking on the request path would put a database
read on the gateway's event loop every refresh interval (about 0.8 ms on PostgreSQL, more when it
is slow — and every request waits behind it), and checking only when requests come would let an
idle replica serve its first request after a revocation with the old keys. So each such cache
names a method that :func:`watch` calls every ``seconds`` from a daemon thread of its own.

The thread holds its owner weakly: when the owner is gone (or its ``closed`` attribute is true)
the thread ends, so short-lived registries in tests and scripts leave nothing behind. A failing
check (the database away) is logged once per run of failures and retried at the next tick.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

__all__ = ["watch"]

log = logging.getLogger(__name__)


def watch(owner: Any, method: str, seconds: float, name: str) -> threading.Thread:
    """Call ``owner.<method>()`` every ``seconds`` in a daemon thread named ``name`` while ``owner``
    lives and is not ``closed``; the thread (started)."""
    ref = weakref.ref(owner)
    stopped = threading.Event()

    def run() -> None:
        failing = False
        while not stopped.wait(seconds):
            target = ref()
            if target is None or getattr(target, "closed", False):
                return
            try:
                getattr(target, method)()
                failing = False
            except Exception as exc:  # the database away: the cache keeps what it had
                if not failing:
                    log.warning("%s: %s failed (%s); retrying every %.1f s", name, method, exc, seconds)
                failing = True
            del target

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
