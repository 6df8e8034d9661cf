"""Moderation's configuration error.

:class:`~core.errors.ModerationBlocked` (a policy refused a text) lives in ``core/errors.py``.
A bad ``config/moderation.yaml`` or lexicon folder raises :class:`ModerationConfigError`, a
:class:`~core.errors.CatalogError` so that it carries the file, line and field the same way
(callers that already catch ``CatalogError`` for bad configuration files catch it too).
"""

from __future__ import annotations

from core.errors import CatalogError, ModerationBlocked

__all__ = ["ModerationBlocked", "ModerationConfigError"]


class ModerationConfigError(CatalogError):
    """``config/moderation.yaml`` or a lexicon file is invalid (file, line, field)."""
