"""Batch workers for tests: ``python -m app.worker`` processes on one data folder and one Redis prefix.

Each worker is a real process started with the given environment and stopped (killed) when the
``with`` block ends; its output is kept in a file beside the data folder for a failing test to show.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.replicas import ROOT

__all__ = ["batch_worker"]


@contextmanager
def batch_worker(data_dir: Path, log: Path, threads: int = 2, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A running worker serving ``data_dir`` with ``env`` added (``REDIS_URL`` and a prefix at least)."""
    environment = {**os.environ, "MODELYARD_DATA_DIR": str(data_dir), **env}
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.worker", "--threads", str(threads)],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
