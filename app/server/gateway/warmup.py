"""Heavy things the gateway loads on first use, not at start: the knowledge base and MiniLM.

``python -m app.server`` starts in about a second without torch in memory; the first request
that needs the sample knowledge base (``/support``, ``/rag``) or an embedding waits for it, and
every later one finds it ready. ``--warm`` (``GatewaySettings.warm``) loads both at start
instead. A knowledge base that cannot be opened (a corrupt Chroma folder) does not stop the
gateway: the knowledge routes answer 503 with the reason and how to rebuild, the rest serves.

Example:
    >>> once = Once(lambda: 42)
    >>> once.ready, once.error
    (False, None)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Once"]


class Once:
    """Run ``load`` at most once, in a worker thread; remember its result or its error."""

    def __init__(self, load: Callable[[], Any]):
        self._load = load
        self._lock = threading.Lock()
        self.ready = False
        self.error: BaseException | None = None

    def run(self) -> None:
        """Load now (in this thread) unless already done; never raises (see :attr:`error`)."""
        with self._lock:
            if self.ready or self.error is not None:
                return
            try:
                self._load()
                self.ready = True
            except Exception as exc:  # kept, and shown to every caller of the routes that need it
                self.error = exc

    async def arun(self) -> None:
        """:meth:`run` off the event loop."""
        if not self.ready and self.error is None:
            await asyncio.to_thread(self.run)
