"""Two gateway processes on one data folder agree about keys (``python -m app.server`` twice).

A key created through one is accepted by the other, a key revoked through one is refused by the
other, and spend charged through one counts against the budget on the other — each within the
keyring's refresh interval (0.5 s), because every process re-reads the keys file when SQLite's
``data_version`` says another connection changed it.
"""

from __future__ import annotations

from contextlib import ExitStack
from functools import partial

import httpx

from tests.integration.test_gateway_crash import ADMIN, gateway_process
from tests.support.upstream import FakeUpstream
from tests.support.waiting import eventually

HI = {"messages": [{"role": "user", "content": "hello"}]}


_eventually = partial(eventually, seconds=5.0, step=0.05)


def _chat(url: str, secret: str, text: str) -> httpx.Response:
    body = {"model": "paid", "messages": [{"role": "user", "content": text}]}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {secret}"})


def test_keys_created_revoked_and_charged_on_one_process_hold_on_the_other(tmp_path):
    with FakeUpstream() as upstream, ExitStack() as stack:
        _, a = stack.enter_context(gateway_process(tmp_path))
        _, b = stack.enter_context(gateway_process(tmp_path))
        spec = {
            "name": "paid",
            "provider": "openai",
            "tasks": ["chit_chat"],
            "cost": {"input_per_1k": 10.0, "output_per_1k": 10.0},  # a few calls exhaust the budget
            "deployments": [{"name": "d0", "base_url": upstream.base_url}],
        }
        assert httpx.post(f"{a}/api/models", json=spec, headers=ADMIN).status_code == 201
        created = httpx.post(f"{a}/api/keys", json={"name": "shared", "budget_usd": 0.15}, headers=ADMIN).json()
        secret = created["secret"]

        assert _eventually(lambda: _chat(b, secret, "hello from b").status_code == 200)  # created on A
        spent_on_a = 0
        while _chat(a, secret, f"spend {spent_on_a}").status_code == 200:
            spent_on_a += 1
            assert spent_on_a < 20
        # the budget A exhausted is exhausted on B too (once A's spend writer has flushed)
        assert _eventually(lambda: _chat(b, secret, "still?").status_code == 402)

        other = httpx.post(f"{b}/api/keys", json={"name": "to revoke"}, headers=ADMIN).json()
        assert _eventually(lambda: _chat(a, other["secret"], "before").status_code == 200)
        assert httpx.delete(f"{b}/api/keys/{other['id']}", headers=ADMIN).status_code == 200
        assert _eventually(lambda: _chat(a, other["secret"], "after").status_code == 401)  # revoked on B
