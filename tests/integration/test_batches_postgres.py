"""A batch on a gateway whose every store is on PostgreSQL (``database_url``, as ``DATABASE_URL`` sets
it): the official ``openai`` client uploads, creates, polls and reads the output, and the files, batch
and lines are rows of that database (the test's own schema), not of a SQLite file."""

from __future__ import annotations

import io
import json
import time

import openai
from sqlalchemy import create_engine, text

from models.spec import ModelSpec
from tests.support.gateways import gateway_app
from tests.support.postgres import scratch_schema
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

ADMIN_KEY = "pg-batches-admin"


def test_a_batch_runs_with_its_store_on_postgresql(tmp_path, postgres_database):
    with FakeUpstream() as upstream, scratch_schema(postgres_database) as url:
        spec = ModelSpec(name="hosted", provider="openai", deployments=[{"name": "d0", "base_url": upstream.base_url}])
        with serving(gateway_app(tmp_path, [spec], database_url=url, master_key=ADMIN_KEY)) as gateway:
            client = openai.OpenAI(base_url=f"{gateway}/v1", api_key=ADMIN_KEY, max_retries=0, timeout=30)
            lines = [
                {
                    "custom_id": f"p{i}",
                    "method": "POST",
                    "url": "/v1/chat/completions",
                    "body": {"model": "hosted", "messages": [{"role": "user", "content": f"pg {i}"}]},
                }
                for i in range(3)
            ]
            content = "".join(json.dumps(line) + "\n" for line in lines).encode()
            file_id = client.files.create(file=("p.jsonl", io.BytesIO(content)), purpose="batch").id
            batch = client.batches.create(
                input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            deadline = time.monotonic() + 60
            while (batch := client.batches.retrieve(batch.id)).status != "completed":
                assert time.monotonic() < deadline and batch.status in ("validating", "in_progress", "finalizing"), (
                    batch
                )
                time.sleep(0.1)
            output = [json.loads(line) for line in client.files.content(batch.output_file_id).text.splitlines()]
        assert sorted(o["response"]["body"]["choices"][0]["message"]["content"] for o in output) == [
            f"echo: pg {i}" for i in range(3)
        ]
        engine = create_engine(url)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT outcome, count(*) FROM batch_lines GROUP BY outcome")).all()
            owners = conn.execute(text("SELECT count(*) FROM batch_files")).scalar()
        engine.dispose()
        assert stored == [("succeeded", 3)] and owners == 2  # the input and the output file
        assert not (tmp_path / "batches.sqlite").exists()
