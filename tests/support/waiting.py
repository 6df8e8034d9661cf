"""Waiting for something another thread or process does: :func:`eventually`, a bounded poll."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["eventually"]


def eventually(check: Callable[[], bool], seconds: float = 10.0, step: float = 0.02) -> bool:
    """Whether ``check()`` came true within ``seconds`` (polled every ``step``; once more at the end)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()
