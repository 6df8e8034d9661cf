"""The Knowledge page: upload → ingest into a new collection, list and delete documents, search.

Each test has its own data folder, so Chroma (embedded) and the uploads live in a temp dir;
embeddings come from the real offline MiniLM.
"""

from __future__ import annotations

import time

import pytest

from knowledge import KnowledgeBase, list_collections
from tests.unit.app.conftest import page, table

pytestmark = pytest.mark.slow

NOTES = b"""# Greenhouse notes

## Watering
The tomato beds in the greenhouse are watered at 6 a.m. with 4 litres per plant.

## Pests
Aphids on the peppers are treated with ladybirds, never with sprays.
"""


def ingest(app):
    """Click Ingest, then poll as the page's fragment does until the background job finished."""
    app.button(key="kb_ingest").click().run()
    assert not app.exception and not app.error
    job_id = app.session_state["kb_job"]  # the click queued a job and returned; the page did not wait
    deadline = time.monotonic() + 120
    while "kb_job" in app.session_state:
        assert time.monotonic() < deadline, f"ingestion job {job_id} still running after 120 s"
        time.sleep(0.2)
        app.run()
    return app


def new_collection(app, name: str):
    app.selectbox(key="kb_collection").set_value("➕ new collection").run()
    return app.text_input(key="kb_new_name").set_value(name).run()


def test_empty_state_and_a_bad_collection_name(own_data_dir):
    app = page("knowledge_base")
    assert "No collections yet" in app.info[0].value
    app = new_collection(app, "x")
    assert "invalid collection name 'x'" in app.error[0].value
    app.file_uploader(key="kb_files").set_value(("notes.md", NOTES, "text/markdown")).run()
    assert app.button(key="kb_ingest").disabled  # no valid collection: nothing to ingest into
    assert list_collections() == []


def test_upload_ingest_search_and_delete(own_data_dir):
    app = new_collection(page("knowledge_base"), "uitest-notes")
    app.file_uploader(key="kb_files").set_value(("notes.md", NOTES, "text/markdown")).run()
    app = ingest(app)
    assert not app.error and not app.exception
    assert app.success[0].value.startswith("uitest-notes: 1 added")
    saved = own_data_dir / "uploads" / "uitest-notes" / "notes.md"
    assert saved.read_bytes() == NOTES
    stats = KnowledgeBase("uitest-notes", create=False).stats()
    assert stats.documents == 1 and stats.chunks >= 2
    sizes = table(app, "chunks").set_index("collection")
    assert sizes.loc["uitest-notes", "documents"] == 1 and sizes.loc["uitest-notes", "chunks"] == stats.chunks

    app.selectbox(key="kb_collection").set_value("uitest-notes").run()
    assert table(app, "version").loc[0, "file"] == "notes.md"
    app.text_input(key="kb_query").set_value("How much water do the tomatoes get?").run()
    hits = table(app, "relevance")
    assert hits.loc[0, "file"] == "notes.md" and "4 litres per plant" in hits.loc[0, "text"]
    assert "Watering" in hits.loc[0, "heading"] and 0 < hits.loc[0, "relevance"] <= 1
    assert list(hits["rank"]) == list(range(1, len(hits) + 1))
    assert "4 litres per plant" in app.expander[0].markdown[0].value  # the whole chunk, under the table

    app.selectbox(key="kb_mode").set_value("lexical")
    app.text_input(key="kb_query").set_value("aphids ladybirds").run()
    lexical = table(app, "relevance")
    assert "ladybirds" in lexical.loc[0, "text"] and lexical["cosine"].isna().all()

    app.button(key="kb_delete").click().run()
    assert "Deleted" in app.success[0].value and "notes.md" in app.success[0].value
    assert KnowledgeBase("uitest-notes", create=False).stats().documents == 0
    assert not saved.exists()
    assert any("has no documents" in info.value for info in app.info)


def test_uploads_are_kept_inside_the_collection_folder_and_checked(own_data_dir):
    from app.ui.knowledge_view import save_uploads
    from core.errors import KnowledgeError

    [path] = save_uploads("uitest-notes", [("../../escape.md", b"# hi")])
    assert path == own_data_dir / "uploads" / "uitest-notes" / "escape.md" and path.read_bytes() == b"# hi"
    with pytest.raises(KnowledgeError, match="evil.exe: unsupported file type"):
        save_uploads("uitest-notes", [("evil.exe", b"MZ")])
    with pytest.raises(KnowledgeError, match="invalid collection name"):
        save_uploads("../x", [("a.md", b"a")])


def test_after_an_ingest_the_uploader_is_empty_and_the_new_collection_is_picked(own_data_dir):
    app = new_collection(page("knowledge_base"), "uitest-fresh")
    app.file_uploader(key="kb_files").set_value(
        [("notes.md", NOTES, "text/markdown"), ("broken.pdf", b"not a pdf", "application/pdf")]
    ).run()
    app = ingest(app)
    assert not app.exception
    assert app.selectbox(key="kb_collection").value == "uitest-fresh"  # not "new collection" again
    assert not app.file_uploader(key="kb_files_1").value and app.button(key="kb_ingest").disabled
    assert not app.success  # a skipped file makes the summary a warning, with file names only
    assert any(w.value.startswith("uitest-fresh: 1 added") for w in app.warning)
    assert all(str(own_data_dir) not in w.value for w in app.warning)
