"""Knowledge ingestion as a background job over the gateway's API, on a loopback port: the upload
answers 202 with a job at once, ``GET /api/jobs/{id}`` shows it moving (files, then chunks, done of
their totals) until it completed, and the documents are then searchable. Real MiniLM embeddings, the
test's own Chroma collection (dropped afterwards)."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from knowledge import KnowledgeBase, delete_collection
from models.spec import ModelSpec
from tests.support.gateways import gateway_app
from tests.support.serving import serving

pytestmark = pytest.mark.slow

MASTER = "knowledge-jobs-admin"
ADMIN = {"Authorization": f"Bearer {MASTER}"}
WATERING = b"# Greenhouse\n\n## Watering\nThe tomato beds are watered at 6 a.m. with 4 litres per plant.\n"
PESTS = b"# Pests\n\n## Aphids\nAphids on the peppers are treated with ladybirds, never with sprays.\n" * 40


@pytest.fixture
def gateway_url(tmp_path):
    spec = ModelSpec(
        name="unused", provider="openai", deployments=[{"name": "d0", "base_url": "http://127.0.0.1:9/v1"}]
    )
    with serving(gateway_app(tmp_path, [spec], master_key=MASTER)) as url:
        yield url


def test_an_upload_becomes_a_job_whose_progress_can_be_polled_until_it_completed(gateway_url):
    collection = f"jobs-{uuid.uuid4().hex[:8]}"
    files = [("files", ("watering.md", WATERING, "text/markdown")), ("files", ("pests.md", PESTS, "text/markdown"))]
    try:
        answer = httpx.post(f"{gateway_url}/api/knowledge/{collection}/documents", files=files, headers=ADMIN)
        assert answer.status_code == 202, answer.text
        job = answer.json()
        assert (
            job["status"] in ("queued", "running", "completed")
            and answer.headers["location"] == f"/api/jobs/{job['id']}"
        )
        seen, deadline = [], time.monotonic() + 120
        while job["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, f"job still {job['status']} after 120 s: {job['progress']}"
            time.sleep(0.05)
            job = httpx.get(f"{gateway_url}/api/jobs/{job['id']}", headers=ADMIN).json()
            seen.append(job["progress"])
        assert job["status"] == "completed", job
        assert job["progress"]["files"] == {"done": 2, "total": 2}
        chunks = job["progress"]["chunks"]
        assert chunks["total"] > 0 and chunks["done"] == chunks["total"] == job["result"]["chunks_written"]
        embedding = [p["chunks"]["done"] for p in seen if p["stage"] == "embedding"]
        assert embedding == sorted(embedding)  # progress only moves forward
        assert sorted(job["result"]["added"]) == ["pests.md", "watering.md"] and job["error"] is None
        assert job["result"]["summary"].startswith(f"{collection}: 2 added")
        hits = KnowledgeBase(collection, create=False).search("How much water do the tomatoes get?", k=1)
        assert "4 litres per plant" in hits[0].text
    finally:
        delete_collection(collection)


def test_a_bad_upload_is_refused_before_any_job_and_jobs_are_the_admins(gateway_url):
    answer = httpx.post(
        f"{gateway_url}/api/knowledge/notes/documents", files=[("files", ("tool.exe", b"MZ"))], headers=ADMIN
    )
    assert answer.status_code == 400 and "tool.exe: unsupported file type" in answer.json()["error"]["message"]
    answer = httpx.post(f"{gateway_url}/api/knowledge/x/documents", files=[("files", ("a.md", b"# a"))], headers=ADMIN)
    assert answer.status_code == 400 and "invalid collection name 'x'" in answer.json()["error"]["message"]
    assert httpx.get(f"{gateway_url}/api/jobs/job_unknown", headers=ADMIN).status_code == 404
    secret = httpx.post(f"{gateway_url}/api/keys", headers=ADMIN, json={"name": "consumer"}).json()["secret"]
    consumer = {"Authorization": f"Bearer {secret}"}
    refused = httpx.post(
        f"{gateway_url}/api/knowledge/notes/documents", files=[("files", ("a.md", b"# a"))], headers=consumer
    )
    assert refused.status_code == 401
    assert httpx.get(f"{gateway_url}/api/jobs/job_unknown", headers=consumer).status_code == 401
