"""The Streamlit app (``app/ui``): pages in ``pages/``, their logic in the plain modules beside them.

Only constants live here: the chat page imports this package before anything heavy, so that its
title and input paint at once.
"""

IMAGE_TYPES = ("png", "jpg", "jpeg", "gif", "webp")
"""File types the chat accepts for vision models."""
