"""The Batch API end to end on a gateway without Redis: the official ``openai`` client uploads a JSONL
file, creates a batch, polls it and reads the output file, against the gateway on a loopback port whose
model is the honest fake upstream (it answers ``echo: <last user message>``, so each output line can be
checked against its own request). The lines run in the gateway's in-process worker, through the same
chat route a live call takes: another key gets 404s, a bad file is refused naming its line, a key whose
budget runs out mid-batch gets per-line 402s in the error file, cancel stops what has not run.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from app.server.jobs.settings import JobSettings
from models.spec import ModelSpec
from store.batches_db import BatchesDB
from tests.support.gateways import gateway_app
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

ADMIN_KEY = "batches-admin-secret"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
CHAT = "/v1/chat/completions"


@dataclass
class Served:
    url: str
    upstream: FakeUpstream

    def key(self, **settings: object) -> str:
        answer = httpx.post(f"{self.url}/api/keys", headers=ADMIN, json={"name": "team", **settings})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["secret"])

    def client(self, secret: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=secret, max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder: Path = tmp_path_factory.mktemp("batches")
    with FakeUpstream() as upstream:
        spec = ModelSpec(
            name="hosted",
            provider="openai",
            tasks=["chit_chat"],
            cost={"input_per_1k": 10.0, "output_per_1k": 10.0},
            params={"max_tokens": {"min": 1}},
            deployments=[{"name": "d0", "base_url": upstream.base_url, "model_id": "fake-gpt", "timeout": 10}],
        )
        jobs = JobSettings(
            batches_path=folder / "batches.sqlite",
            jobs_path=folder / "jobs.sqlite",
            local_concurrency=2,
            retry_after_seconds=0.2,
        )
        with serving(gateway_app(folder, [spec], master_key=ADMIN_KEY, jobs=jobs)) as url:
            yield Served(url, upstream)


def _line(custom_id: str, text: str, url: str = CHAT, **body: object) -> dict:
    content = {"model": "hosted", "messages": [{"role": "user", "content": text}], **body}
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": content}


def _jsonl(lines: list[dict]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def _upload(client: openai.OpenAI, content: bytes) -> str:
    return client.files.create(file=("requests.jsonl", io.BytesIO(content)), purpose="batch").id


def _finished(client: openai.OpenAI, batch_id: str, seconds: float = 60.0) -> openai.types.Batch:
    deadline = time.monotonic() + seconds
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in ("completed", "failed", "expired", "cancelled"):
            return batch
        assert time.monotonic() < deadline, f"batch still {batch.status} after {seconds} s: {batch.request_counts}"
        time.sleep(0.1)


def _lines(client: openai.OpenAI, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines()]


def test_a_batch_runs_every_line_through_the_chat_route_and_answers_in_openai_shapes(served):
    client = served.client(served.key())
    requests = [_line(f"req-{i}", f"say {i}", max_tokens=50) for i in range(6)]
    uploaded = client.files.retrieve(_upload(client, _jsonl(requests)))
    assert (uploaded.purpose, uploaded.filename, uploaded.status) == ("batch", "requests.jsonl", "processed")
    assert client.files.content(uploaded.id).content == _jsonl(requests)

    created = client.batches.create(
        input_file_id=uploaded.id, endpoint=CHAT, completion_window="24h", metadata={"run": "nightly"}
    )
    assert created.status == "validating" and created.metadata == {"run": "nightly"}
    batch = _finished(client, created.id)

    assert batch.status == "completed", batch
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (6, 6, 0)
    assert batch.in_progress_at and batch.finalizing_at and batch.completed_at and batch.error_file_id is None
    output = _lines(client, batch.output_file_id)
    assert sorted(line["custom_id"] for line in output) == [f"req-{i}" for i in range(6)]
    for line in output:
        number = line["custom_id"].removeprefix("req-")
        assert line["id"].startswith("batch_req_") and line["error"] is None
        assert line["response"]["status_code"] == 200
        assert line["response"]["body"]["choices"][0]["message"]["content"] == f"echo: say {number}"
        assert line["response"]["body"]["model"] == "hosted"
    assert batch.usage is not None and batch.usage.total_tokens == sum(
        line["response"]["body"]["usage"]["total_tokens"] for line in output
    )
    assert created.id in [listed.id for listed in client.batches.list()]
    assert client.files.retrieve(batch.output_file_id).purpose == "batch_output"


def test_responses_lines_run_through_the_responses_route(served):
    client = served.client(served.key())
    line = {
        "custom_id": "r1",
        "method": "POST",
        "url": "/v1/responses",
        "body": {"model": "hosted", "input": "hello responses"},
    }
    file_id = _upload(client, _jsonl([line]))
    batch = _finished(
        client, client.batches.create(input_file_id=file_id, endpoint="/v1/responses", completion_window="24h").id
    )
    (output,) = _lines(client, batch.output_file_id)
    assert output["response"]["body"]["object"] == "response"
    assert output["response"]["body"]["output"][0]["content"][0]["text"] == "echo: hello responses"


def test_embeddings_lines_run_through_the_embeddings_route(served):
    client = served.client(served.key())
    body = {"model": "all-MiniLM-L6-v2", "input": ["a greenhouse", "tomatoes"]}
    line = {"custom_id": "e1", "method": "POST", "url": "/v1/embeddings", "body": body}
    created = client.batches.create(
        input_file_id=_upload(client, _jsonl([line])), endpoint="/v1/embeddings", completion_window="24h"
    )
    (output,) = _lines(client, _finished(client, created.id, seconds=120).output_file_id)
    vectors = output["response"]["body"]["data"]
    assert [v["index"] for v in vectors] == [0, 1] and all(len(v["embedding"]) == 384 for v in vectors)


@pytest.mark.parametrize(
    ("third_line", "named"),
    [
        (b"{not json\n", "line 3: not valid JSON"),
        (
            json.dumps({"custom_id": "c", "method": "POST", "url": CHAT, "body": {"model": "hosted"}}).encode(),
            "line 3: body.messages: field required",
        ),
        (json.dumps(_line("a", "again")).encode(), "line 3: custom_id: 'a' is already used by line 1"),
        (
            json.dumps({**_line("c", "x"), "url": "/v1/completions"}).encode(),
            "line 3: url: '/v1/completions' cannot be batched",
        ),
        (json.dumps(_line("c", "x", stream=True)).encode(), "line 3: body.stream"),
        (json.dumps({"custom_id": "c", "url": CHAT, "body": {}}).encode(), "line 3: method: field required"),
    ],
)
def test_a_bad_file_is_refused_naming_the_line_and_the_field(served, third_line, named):
    client = served.client(served.key())
    content = _jsonl([_line("a", "one"), _line("b", "two")]) + third_line + b"\n"
    with pytest.raises(openai.BadRequestError) as refused:
        _upload(client, content)
    assert refused.value.status_code == 400
    assert named in refused.value.message
    assert refused.value.body["line"] == 3


def test_a_batch_must_call_one_supported_endpoint(served):
    client = served.client(served.key())
    file_id = _upload(client, _jsonl([_line("a", "one")]))
    with pytest.raises(openai.BadRequestError, match="line 1: url: /v1/chat/completions is not the batch's endpoint"):
        client.batches.create(input_file_id=file_id, endpoint="/v1/embeddings", completion_window="24h")
    with pytest.raises(openai.BadRequestError, match="endpoint: '/v1/completions' cannot be batched"):
        client.batches.create(input_file_id=file_id, endpoint="/v1/completions", completion_window="24h")  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="completion_window"):
        client.batches.create(input_file_id=file_id, endpoint=CHAT, completion_window="1h")  # type: ignore[arg-type]
    answer = httpx.post(
        f"{served.url}/v1/files",
        headers={"Authorization": f"Bearer {served.key()}"},
        files={"file": ("x.jsonl", _jsonl([_line("a", "one")]))},
        data={"purpose": "fine-tune"},
    )
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "purpose"


def test_another_key_sees_none_of_it(served):
    owner, other = served.client(served.key()), served.client(served.key())
    file_id = _upload(owner, _jsonl([_line("a", "mine")]))
    batch = _finished(owner, owner.batches.create(input_file_id=file_id, endpoint=CHAT, completion_window="24h").id)
    for attempt in (
        lambda: other.files.retrieve(file_id),
        lambda: other.files.content(file_id),
        lambda: other.files.content(batch.output_file_id),
        lambda: other.batches.retrieve(batch.id),
        lambda: other.batches.cancel(batch.id),
        lambda: other.batches.create(input_file_id=file_id, endpoint=CHAT, completion_window="24h"),
    ):
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert batch.id not in [listed.id for listed in other.batches.list()]
    assert file_id not in [listed.id for listed in other.files.list()]


def test_cancel_stops_the_lines_not_yet_run(served):
    client = served.client(served.key())
    served.upstream.set_latency(0.3)
    try:
        file_id = _upload(client, _jsonl([_line(f"c{i}", f"slow {i}") for i in range(20)]))
        created = client.batches.create(input_file_id=file_id, endpoint=CHAT, completion_window="24h")
        deadline = time.monotonic() + 30
        while client.batches.retrieve(created.id).request_counts.completed < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        cancelling = client.batches.cancel(created.id)
        assert cancelling.status in ("cancelling", "cancelled") and cancelling.cancelling_at
        batch = _finished(client, created.id)
    finally:
        served.upstream.set_latency(0.0)
    assert batch.status == "cancelled" and batch.cancelled_at
    done = _lines(client, batch.output_file_id)
    assert 1 <= len(done) < 20 and batch.request_counts.completed == len(done)
    assert all(line["response"]["status_code"] == 200 for line in done)
    assert client.batches.cancel(created.id).status == "cancelled"  # cancelling again changes nothing


def test_a_finished_batch_cannot_be_cancelled(served):
    client = served.client(served.key())
    file_id = _upload(client, _jsonl([_line("a", "done")]))
    batch = _finished(client, client.batches.create(input_file_id=file_id, endpoint=CHAT, completion_window="24h").id)
    with pytest.raises(openai.ConflictError, match="is completed: only a validating or in_progress batch"):
        client.batches.cancel(batch.id)


def test_a_key_that_runs_out_of_budget_gets_402_lines_in_the_error_file(served):
    # each call costs ~(prompt ~5 + answer ~4 tokens) * $10/1k ≈ $0.09; $0.25 pays for a few lines only
    client = served.client(served.key(budget_usd=0.25))
    file_id = _upload(client, _jsonl([_line(f"b{i}", f"budget {i}", max_tokens=5) for i in range(12)]))
    batch = _finished(client, client.batches.create(input_file_id=file_id, endpoint=CHAT, completion_window="24h").id)
    assert batch.status == "completed"
    answered, refused = _lines(client, batch.output_file_id), _lines(client, batch.error_file_id)
    assert answered and refused and len(answered) + len(refused) == 12
    assert (batch.request_counts.completed, batch.request_counts.failed) == (len(answered), len(refused))
    for line in refused:
        assert line["response"]["status_code"] == 402
        assert line["error"]["code"] == "budget_exceeded"
        assert line["response"]["body"]["error"]["code"] == "budget_exceeded"
    assert sorted(line["custom_id"] for line in answered + refused) == sorted(f"b{i}" for i in range(12))


def test_the_internal_acting_header_means_nothing_from_outside(served):
    created = httpx.post(f"{served.url}/api/keys", headers=ADMIN, json={"name": "victim"}).json()
    body = {"model": "hosted", "messages": [{"role": "user", "content": "who am I"}]}
    for path in (CHAT, "/v1/batches"):
        answer = httpx.post(
            f"{served.url}{path}", json=body, headers={"x-modelyard-internal-acting-key": created["id"]}
        )
        assert answer.status_code == 401, answer.text


def test_a_gateway_restarted_mid_batch_finishes_it_from_the_database(tmp_path):
    with FakeUpstream() as upstream:
        spec = ModelSpec(
            name="hosted",
            provider="openai",
            tasks=["chit_chat"],
            deployments=[{"name": "d0", "base_url": upstream.base_url, "model_id": "fake-gpt", "timeout": 10}],
        )
        jobs = JobSettings(
            batches_path=tmp_path / "batches.sqlite", jobs_path=tmp_path / "jobs.sqlite", local_concurrency=1
        )
        upstream.set_latency(0.3)
        with serving(gateway_app(tmp_path, [spec], master_key=ADMIN_KEY, jobs=jobs)) as url:
            served = Served(url, upstream)
            secret = served.key()
            client = served.client(secret)
            file_id = _upload(client, _jsonl([_line(f"r{i}", f"restart {i}") for i in range(8)]))
            batch_id = client.batches.create(input_file_id=file_id, endpoint=CHAT, completion_window="24h").id
            deadline = time.monotonic() + 30
            while client.batches.retrieve(batch_id).request_counts.completed < 2:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        stopped = BatchesDB(tmp_path / "batches.sqlite")
        left = stopped.counts(batch_id).pending
        stopped.close()
        assert left > 0  # the first gateway stopped with lines still to run
        upstream.set_latency(0.0)
        with serving(gateway_app(tmp_path, [spec], master_key=ADMIN_KEY, jobs=jobs)) as url:
            client = Served(url, upstream).client(secret)
            batch = _finished(client, batch_id)
            output = _lines(client, batch.output_file_id)
    assert batch.status == "completed" and batch.request_counts.completed == 8
    assert sorted(line["custom_id"] for line in output) == sorted(f"r{i}" for i in range(8))
    assert all(
        line["response"]["body"]["choices"][0]["message"]["content"] == f"echo: restart {line['custom_id'][1:]}"
        for line in output
    )


def test_uploads_have_their_own_size_limit(tmp_path):
    spec = ModelSpec(
        name="hosted", provider="openai", deployments=[{"name": "d0", "base_url": "http://127.0.0.1:9/v1"}]
    )
    jobs = JobSettings(
        batches_path=tmp_path / "batches.sqlite", jobs_path=tmp_path / "jobs.sqlite", max_file_bytes=4000
    )
    with serving(gateway_app(tmp_path, [spec], master_key=ADMIN_KEY, jobs=jobs, max_body_bytes=1000)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=ADMIN_KEY, max_retries=0)
        fits = _jsonl([_line(f"s{i}", "x" * 100) for i in range(12)])  # over the 1000-byte body limit
        assert 1000 < len(fits) < 4000 and client.files.retrieve(_upload(client, fits)).bytes == len(fits)
        with pytest.raises(openai.APIStatusError, match="larger than 4000 bytes") as refused:
            _upload(client, _jsonl([_line(f"s{i}", "x" * 100) for i in range(40)]))
        assert refused.value.status_code == 413
        chat = httpx.post(f"{url}/v1/chat/completions", headers=ADMIN, content=b"{" + b" " * 2000 + b"}")
        assert chat.status_code == 413  # the rest of the gateway keeps its own limit
