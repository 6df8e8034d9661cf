"""Knowledge: collections with their sizes; upload files to ingest (a background job whose progress the
page polls, so a large upload blocks nothing), delete documents, and search a collection to see the
retrieved chunks and their scores."""

from __future__ import annotations

from typing import cast

import streamlit as st

from app.ui.knowledge_view import (
    collection_rows,
    document_rows,
    hit_rows,
    job_notices,
    job_progress,
    remove_upload,
    uploader_key,
)
from app.ui.state import ingest_jobs
from core.errors import KnowledgeError
from knowledge import SAMPLE_COLLECTION, SUPPORTED_SUFFIXES, KnowledgeBase, list_collections
from knowledge.search import SearchMode
from knowledge.store import validate_collection_name

NEW = "➕ new collection"

st.title("Knowledge")
for kind, text in st.session_state.pop("knowledge_notices", []):  # from the action before the last rerun
    getattr(st, kind)(text)

if "kb_pick" in st.session_state:  # after an ingest: the collection just written, a fresh name field
    st.session_state.kb_collection = st.session_state.pop("kb_pick")
    st.session_state.pop("kb_new_name", None)
names = list_collections()
if names:
    st.dataframe(collection_rows(names), hide_index=True, key="collections")
else:
    st.info(
        "No collections yet. Upload files below into a new collection, or run `make run` to ingest the "
        "sample shop knowledge base."
    )

default = names.index(SAMPLE_COLLECTION) if SAMPLE_COLLECTION in names else 0
picked = st.selectbox("Collection", [*names, NEW], index=default, key="kb_collection")
collection = picked
if picked == NEW:
    collection = st.text_input(
        "New collection name", key="kb_new_name", placeholder="my-docs", help="3-512 letters, digits, '.', '_' or '-'"
    ).strip()
    try:
        if collection:
            validate_collection_name(collection)
    except KnowledgeError as exc:
        st.error(str(exc))
        collection = ""

upload_tab, documents_tab, search_tab = st.tabs(["Upload", "Documents", "Search"])

with upload_tab:
    upload_round = st.session_state.get("kb_upload_round", 0)
    files = st.file_uploader(
        "Files to ingest",
        accept_multiple_files=True,
        key=uploader_key(upload_round),  # a new key after each ingest empties the uploader
        type=sorted(suffix.lstrip(".") for suffix in SUPPORTED_SUFFIXES),
    )
    running = st.session_state.get("kb_job")
    if st.button("Ingest", key="kb_ingest", type="primary", disabled=bool(running or not (files and collection))):
        try:
            st.session_state.kb_job = ingest_jobs().submit(collection, [(f.name, f.getvalue()) for f in files])
        except KnowledgeError as exc:
            st.error(str(exc))
        else:
            st.session_state.kb_upload_round = upload_round + 1
            st.rerun()

    @st.fragment(run_every=0.5)
    def ingestion_progress(job_id: str) -> None:
        """The running job's progress; once it finished, its notices and a full rerun (new sizes, documents)."""
        job = ingest_jobs().get(job_id)
        if job is not None and job.status in ("queued", "running"):
            fraction, text = job_progress(job)
            st.progress(min(fraction, 1.0), text=text)
            return
        del st.session_state.kb_job
        if job is not None:
            st.session_state.knowledge_notices = job_notices(job)
            st.session_state.kb_pick = job.target
        st.rerun()

    if running:
        ingestion_progress(running)

with documents_tab:
    if collection and collection in names:
        kb = KnowledgeBase(collection, create=False)
        rows = document_rows(kb)
        if rows:
            st.dataframe(
                [{k: v for k, v in row.items() if k != "source"} for row in rows], hide_index=True, key="documents"
            )
            source = st.selectbox(
                "Document",
                [row["source"] for row in rows],
                key="kb_document",
                format_func=lambda s: next(r["file"] for r in rows if r["source"] == s),
            )
            if st.button("Delete document", key="kb_delete"):
                removed = kb.delete_document(source)
                remove_upload(collection, source)
                st.session_state.knowledge_notices = [("success", f"Deleted {removed} chunks of {source}.")]
                st.rerun()
        else:
            st.info(f"{collection} has no documents: upload some in the Upload tab.")
    else:
        st.info("Pick an existing collection to see its documents.")

with search_tab:
    if collection and collection in names:
        left, middle, right = st.columns([4, 1, 1])
        query = left.text_input("Query", key="kb_query", placeholder="How long does a refund take?")
        mode = cast(SearchMode, middle.selectbox("Mode", ["hybrid", "dense", "lexical"], key="kb_mode"))
        k = right.number_input("Results", 1, 20, 5, key="kb_k")
        if query.strip():
            hits = KnowledgeBase(collection, create=False).search(query, k=int(k), mode=mode)
            if hits:
                st.dataframe(hit_rows(hits), hide_index=True, key="hits")
                for rank, hit in enumerate(hits, start=1):
                    with st.expander(f"{rank}. {hit.heading or hit.source} · relevance {hit.score:.2f}"):
                        st.caption(hit.source)
                        st.markdown(hit.text)
            else:
                st.info("Nothing found. Try other words, or the dense mode for paraphrases.")
    else:
        st.info("Pick an existing collection to search it.")
