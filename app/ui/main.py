"""Modelyard's Streamlit app: ``streamlit run app/ui/main.py`` (or ``make run``)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="Modelyard", page_icon="🧭", layout="wide")
navigation = st.navigation([st.Page(str(PAGES / "chat.py"), title="Chat", icon="💬", default=True)])
navigation.run()
