"""Shared fixtures: the real moderation config, loaded once."""

from __future__ import annotations

import pytest

from chains.moderation import Moderator


@pytest.fixture(scope="session")
def moderator() -> Moderator:
    """The project's own config/moderation.yaml and lexicons."""
    return Moderator.from_config()
