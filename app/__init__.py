"""Surfaces: the Streamlit app (``app/ui``) and, later, the HTTP gateway."""
