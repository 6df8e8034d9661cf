"""Process-wide objects the Streamlit pages share (built once per server process)."""

from __future__ import annotations

from typing import Any

import streamlit as st
from langchain_core.runnables import Runnable

from models.registry import Registry

__all__ = ["assistant", "registry", "router"]


@st.cache_resource
def registry() -> Registry:
    """The model registry (catalog + runtime registrations), shared by every session."""
    return Registry()


@st.cache_resource
def router() -> Runnable[Any, Any]:
    """The RouterRunnable behind the ``auto`` choice (catalog + config/routing.yaml)."""
    from routers.router import RouterRunnable

    return RouterRunnable.from_config(registry())


def assistant(model: Runnable[Any, Any] | None, collection: str | None) -> Runnable[Any, Any]:
    """The moderated assistant over ``model`` (``None`` = the router), grounded in ``collection``."""
    from chains.assistant import build_assistant

    return build_assistant(model if model is not None else router(), policy="default", collection=collection)
