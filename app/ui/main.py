"""Modelyard's Streamlit app: ``streamlit run app/ui/main.py`` (or ``make run``).

Six pages, one file each in ``app/ui/pages/``; the logic they share without Streamlit sits in
small modules beside them (``chat_session``, ``models_view``, ``knowledge_view``,
``dashboard_data``, ``settings_view``, ``services_view``), and the process-wide objects in ``state``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

# Page files are not named after packages (models, knowledge): a page's folder can end up on
# sys.path (AppTest.from_file), where such a name would shadow the package.
PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="Modelyard", page_icon="🧭", layout="wide")
navigation = st.navigation(
    [
        st.Page(str(PAGES / "chat.py"), title="Chat", icon=":material/chat:", default=True),
        st.Page(str(PAGES / "model_registry.py"), title="Models", icon=":material/hub:", url_path="models"),
        st.Page(str(PAGES / "knowledge_base.py"), title="Knowledge", icon=":material/menu_book:", url_path="knowledge"),
        st.Page(str(PAGES / "services.py"), title="Services", icon=":material/storefront:"),
        st.Page(str(PAGES / "dashboard.py"), title="Dashboard", icon=":material/monitoring:"),
        st.Page(str(PAGES / "settings.py"), title="Settings", icon=":material/settings:"),
    ]
)
navigation.run()
