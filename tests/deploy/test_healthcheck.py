"""deploy/docker/healthcheck.py, the image's HEALTHCHECK, run as Docker runs it against a real HTTP
server on loopback."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "docker" / "healthcheck.py"


class _Health(http.server.BaseHTTPRequestHandler):
    """``/ok`` answers 200, ``/down`` 503, anything else 404."""

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        status = {"/ok": 200, "/down": 503}.get(self.path, 404)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def run_check(url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MODELYARD_HEALTHCHECK_URL": url}
    return subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=30, check=False
    )


def test_healthy_when_the_url_answers_200(server: str) -> None:
    done = run_check(f"{server}/ok")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith(": 200")


def test_unhealthy_when_the_url_answers_an_error(server: str) -> None:
    done = run_check(f"{server}/down")
    assert done.returncode == 1
    assert done.stdout.strip().endswith(": 503")


def test_unhealthy_when_nothing_listens() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and is closed now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = run_check(f"http://127.0.0.1:{port}/healthz")
    assert done.returncode == 1
    assert f"127.0.0.1:{port}" in done.stdout
