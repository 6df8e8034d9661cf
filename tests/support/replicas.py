"""Gateway replicas for tests: ``python -m app.server`` processes on loopback, on one data folder.

Each replica is a real process started with the given environment (``REDIS_URL`` and a prefix,
for the scale-out tests) and stopped (killed) when the ``with`` block ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.upstream import free_port

__all__ = ["ROOT", "gateway_replica", "gateway_replica_process"]

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def gateway_replica(data_dir: Path, master_key: str, **env: str) -> Iterator[str]:
    """The base URL of a gateway serving ``data_dir`` with ``env`` added, once ``/healthz`` answers."""
    with gateway_replica_process(data_dir, master_key, **env) as (_, url):
        yield url


@contextmanager
def gateway_replica_process(data_dir: Path, master_key: str, **env: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """:func:`gateway_replica` with its process (for a test that kills it)."""
    port = free_port()
    environment = {**os.environ, "MODELYARD_DATA_DIR": str(data_dir), "MODELYARD_MASTER_KEY": master_key, **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "app.server", "--port", str(port), "--no-knowledge", "--log-level", "warning"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            if process.poll() is not None:
                raise AssertionError(process.stdout.read().decode(errors="replace") if process.stdout else "exited")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the gateway did not start in 120 s")
            time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()
