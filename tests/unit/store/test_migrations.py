"""Schema migrations (store/migrations): from an empty database, from files the release before
migrations wrote (adopted with their rows), two processes at once on PostgreSQL, and the cheap path."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, Text, create_engine, text

from core.errors import StoreError
from store import api_keys_db, experiments_db, registry_db, request_log_db, responses_db, services_db
from store.api_keys_db import ApiKeysDB
from store.experiments_db import ExperimentsDB
from store.migrations import SCHEMAS, alembic_config
from store.registry_db import RegistryDB
from store.request_log_db import RequestLogDB
from store.responses_db import ResponsesDB
from store.services_db import ServicesDB
from store.store_engine import StoreEngine
from tests.support.postgres import scratch_schema

ROOT = Path(__file__).resolve().parents[3]

TABLES: dict[str, MetaData] = {
    "api_keys": api_keys_db.api_keys.metadata,
    "registry": registry_db.models.metadata,
    "experiments": experiments_db.ab_events.metadata,
    "services": services_db.services.metadata,
    "responses": responses_db.responses.metadata,
    "requests": request_log_db.requests.metadata,
}
"""Each store's Table definitions (what its queries use), to compare with what its migrations built."""

PREVIOUS_RELEASE = {
    # the raw SQL each store ran on open before migrations (git show d18848b:store/<store>_db.py);
    # api_keys is its first release's, without the ``service`` column a later one added on open
    "api_keys": """
        CREATE TABLE IF NOT EXISTS api_keys (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_sha256 TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,
            allowed_models TEXT NOT NULL DEFAULT '[]', rpm INTEGER, tpm INTEGER, budget_usd REAL,
            spent_usd REAL NOT NULL DEFAULT 0, created REAL NOT NULL, revoked_at REAL);
        INSERT INTO api_keys (id, name, secret_sha256, prefix, spent_usd, created)
            VALUES ('key_old', 'team-a', 'hash-old', 'my-AbCdE', 1.25, 1.0);""",
    "registry": """
        CREATE TABLE IF NOT EXISTS models (
            name TEXT PRIMARY KEY, spec TEXT NOT NULL, fingerprint TEXT NOT NULL,
            owner TEXT NOT NULL DEFAULT '', updated_at REAL NOT NULL);
        CREATE TABLE IF NOT EXISTS offline (
            model TEXT NOT NULL, deployment TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (model, deployment));
        CREATE TABLE IF NOT EXISTS changes (
            id INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, at REAL NOT NULL,
            old_fingerprint TEXT, new_fingerprint TEXT NOT NULL, diff TEXT NOT NULL, breaking TEXT NOT NULL);
        INSERT INTO models VALUES ('old-model', '{"name": "old-model"}', 'fp', 'ops', 1.0);
        INSERT INTO offline VALUES ('old-model', 'a', 1.0);""",
    "experiments": """
        CREATE TABLE IF NOT EXISTS ab_events (
            request_id TEXT PRIMARY KEY, experiment TEXT NOT NULL, arm TEXT NOT NULL, at REAL NOT NULL,
            latency REAL, input_tokens INTEGER, output_tokens INTEGER, cost REAL, error TEXT);
        CREATE TABLE IF NOT EXISTS ab_feedback (request_id TEXT PRIMARY KEY, score INTEGER NOT NULL, at REAL NOT NULL);
        CREATE TABLE IF NOT EXISTS ab_status (experiment TEXT PRIMARY KEY, status TEXT NOT NULL, at REAL NOT NULL);
        INSERT INTO ab_events VALUES ('r-old', 'exp', 'a', 1.0, 0.2, 3, 4, 0.01, NULL);
        INSERT INTO ab_feedback VALUES ('r-old', 1, 1.0);
        INSERT INTO ab_status VALUES ('exp', 'paused', 1.0);""",
    "services": """
        CREATE TABLE IF NOT EXISTS services (
            name TEXT PRIMARY KEY, owner TEXT NOT NULL, approval TEXT NOT NULL, limits TEXT NOT NULL DEFAULT '{}',
            created REAL NOT NULL);
        CREATE TABLE IF NOT EXISTS service_versions (
            service TEXT NOT NULL, version INTEGER NOT NULL, spec TEXT NOT NULL, fingerprint TEXT NOT NULL,
            created REAL NOT NULL, created_by TEXT NOT NULL, PRIMARY KEY (service, version));
        CREATE TABLE IF NOT EXISTS subscriptions (
            id TEXT PRIMARY KEY, service TEXT NOT NULL, subscriber TEXT NOT NULL, key_id TEXT NOT NULL UNIQUE,
            status TEXT NOT NULL, created REAL NOT NULL, decided_at REAL, decided_by TEXT, reason TEXT);
        CREATE INDEX IF NOT EXISTS subscriptions_service ON subscriptions (service);
        INSERT INTO services VALUES ('say', 'team-a', 'manual', '{"rpm": 5}', 1.0);
        INSERT INTO service_versions VALUES ('say', 1, '{"messages": []}', 'f1', 1.0, 'team-a');
        INSERT INTO subscriptions (id, service, subscriber, key_id, status, created)
            VALUES ('sub_1', 'say', 'team-b', 'key_1', 'pending', 2.0);""",
    "responses": """
        CREATE TABLE IF NOT EXISTS responses (
            id TEXT PRIMARY KEY, owner TEXT NOT NULL, response TEXT NOT NULL, history TEXT NOT NULL,
            created REAL NOT NULL);
        CREATE INDEX IF NOT EXISTS responses_owner ON responses (owner, id);
        CREATE INDEX IF NOT EXISTS responses_created ON responses (created);
        INSERT INTO responses VALUES ('resp_old', 'key_a', '{"id": "resp_old", "output": []}', '[]', 1.0);""",
    "requests": """
        CREATE TABLE requests (id TEXT PRIMARY KEY, ts REAL NOT NULL, endpoint TEXT NOT NULL, model TEXT,
            deployment TEXT, route_reason TEXT, latency_ms REAL, ttft_ms REAL, input_tokens INTEGER,
            output_tokens INTEGER, cost_usd REAL, status INTEGER, error_class TEXT);
        INSERT INTO requests VALUES ('old', 1.0, 'chat', 'm', 'd0', '', 5, NULL, 1, 2, 0.5, 200, '');""",
}


def _version(target: Path | str, store: str) -> str:
    engine = create_engine(target if isinstance(target, str) else f"sqlite:///{target}")
    with engine.connect() as conn:
        found = conn.execute(text(f"SELECT version_num FROM {SCHEMAS[store].version_table}")).scalar_one()
    engine.dispose()
    return found


def test_each_stores_head_is_its_branchs_head_in_the_scripts():
    scripts = ScriptDirectory.from_config(alembic_config())
    branches = {label for revision in scripts.walk_revisions() for label in revision.branch_labels}
    assert branches == set(SCHEMAS)
    for name, schema in SCHEMAS.items():
        assert scripts.get_revision(f"{name}@head").revision == schema.head, name
        assert scripts.get_revision(schema.adopted_at) is not None


@pytest.mark.parametrize("store", sorted(SCHEMAS))
def test_a_store_migrates_from_empty_to_exactly_its_tables(store_target, store):
    tables = StoreEngine(store_target, store)
    assert _version(store_target, store) == SCHEMAS[store].head
    assert _differences(tables, TABLES[store]) == []  # its queries' tables are the ones its migrations built
    if SCHEMAS[store].counted:
        assert tables.version() == 0
    tables.close()


def _differences(tables: StoreEngine, metadata: MetaData) -> list[object]:
    """What Alembic's autogenerate would change to make the database match ``metadata``'s tables
    (columns, types, nullability, keys, indexes), ignoring the other stores' tables in it."""
    ours = set(metadata.tables)

    def include(name: str | None, kind: str, _parent: object) -> bool:
        return kind != "table" or name in ours

    with tables.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": include, "compare_type": True})
        return list(compare_metadata(context, metadata))


def test_a_drifted_table_definition_is_caught(store_target):
    tables = StoreEngine(store_target, "responses")
    drifted = MetaData()
    for table in TABLES["responses"].tables.values():
        table.to_metadata(drifted)
    drifted.tables["responses"].append_column(Column("extra", Text))
    assert [d[0] for d in _differences(tables, drifted)] == ["add_column"]
    tables.close()


def test_every_store_shares_one_database(store_target):
    opened = [
        ApiKeysDB(store_target),
        RegistryDB(store_target),
        ExperimentsDB(store_target),
        ServicesDB(store_target),
        ResponsesDB(store_target),
        RequestLogDB(store_target),
    ]
    assert {name: _version(store_target, name) for name in SCHEMAS} == {n: s.head for n, s in SCHEMAS.items()}
    opened[0].add_spend({"nobody": 1.0})
    assert opened[0].data_version() == 1 and opened[1].generation() == 0  # one counter row per store
    for db in opened:
        db.close()


def _previous_release_file(folder: Path, store: str) -> Path:
    path = folder / f"{store}.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(PREVIOUS_RELEASE[store])
    conn.commit()
    conn.close()
    return path


def test_files_of_the_release_before_migrations_are_adopted_with_their_rows(tmp_path):
    keys = ApiKeysDB(_previous_release_file(tmp_path, "api_keys"))
    (old_key,) = keys.all()
    assert (old_key.id, old_key.spent_usd, old_key.service) == ("key_old", 1.25, None)  # gained the column
    keys.add_spend({"key_old": 0.25})
    assert keys.all()[0].spent_usd == 1.5 and keys.data_version() == 1

    registry = RegistryDB(_previous_release_file(tmp_path, "registry"))
    assert registry.stored_specs() == {"old-model": {"name": "old-model"}}
    assert registry.offline_pairs() == {("old-model", "a")}

    experiments = ExperimentsDB(_previous_release_file(tmp_path, "experiments"))
    assert experiments.status("exp") == "paused"
    assert experiments.summary("exp")[0]["thumbs_up"] == 1

    services = ServicesDB(_previous_release_file(tmp_path, "services"))
    assert services.service("say").limits == {"rpm": 5}
    assert services.add_version("say", {"messages": [1]}, "f2", "team-a")[0].version == 2
    assert services.subscription_of_key("key_1").status == "pending"

    stored = ResponsesDB(_previous_release_file(tmp_path, "responses"))
    assert stored.get("key_a", "resp_old").response["id"] == "resp_old"

    log = RequestLogDB(_previous_release_file(tmp_path, "requests"))
    assert [(row["id"], row["key_id"]) for row in log.rows(0, 10)] == [("old", None)]

    for store in SCHEMAS:
        assert _version(tmp_path / f"{store}.sqlite", store) == SCHEMAS[store].head
    for db in (keys, registry, experiments, services, stored, log):
        db.close()


def _open_every_store(url: str, start: multiprocessing.synchronize.Event) -> None:
    start.wait()
    for store in SCHEMAS:
        StoreEngine(url, store).close()


def test_two_processes_migrate_an_empty_postgres_database_at_once(postgres_database):
    context = multiprocessing.get_context("spawn")
    with scratch_schema(postgres_database) as url:
        start = context.Event()
        workers = [context.Process(target=_open_every_store, args=(url, start)) for _ in range(3)]
        for worker in workers:
            worker.start()
        start.set()  # all of them at once, on a database with no tables
        for worker in workers:
            worker.join(timeout=120)
        assert [worker.exitcode for worker in workers] == [0, 0, 0]
        assert {name: _version(url, name) for name in SCHEMAS} == {n: s.head for n, s in SCHEMAS.items()}


def test_a_store_at_its_head_opens_without_alembic(tmp_path):
    path = tmp_path / "keys.sqlite"
    ApiKeysDB(path).close()  # migrated here
    script = (
        "import sys; from store.api_keys_db import ApiKeysDB\n"
        f"ApiKeysDB({str(path)!r}).close()\n"
        "print('alembic' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


def test_an_unreachable_database_is_named_without_its_password():
    with pytest.raises(StoreError) as caught:
        ApiKeysDB("postgresql+psycopg://app:s3cret-pw@127.0.0.1:1/modelyard")
    assert "127.0.0.1:1" in str(caught.value) and "s3cret-pw" not in str(caught.value)
    assert "api_keys" in str(caught.value)
