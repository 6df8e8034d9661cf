"""Process-wide objects the Streamlit pages share (built once per server process)."""

from __future__ import annotations

import streamlit as st

from models.registry import Registry

__all__ = ["registry"]


@st.cache_resource
def registry() -> Registry:
    """The model registry (catalog + runtime registrations), shared by every session."""
    return Registry()
