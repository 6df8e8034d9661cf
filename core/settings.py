"""Where Modelyard keeps its configuration and its runtime state.

Configuration is read from ``config/`` (override with ``MODELYARD_CONFIG_DIR``); all runtime
state — SQLite files, Chroma, converted models, logs — lives under ``data/`` (override with
``MODELYARD_DATA_DIR``). Both are resolved at call time so tests can point them at temporary
folders by setting the environment variables.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

__all__ = ["PROJECT_ROOT", "config_dir", "data_dir"]


def config_dir() -> Path:
    """The configuration folder (``MODELYARD_CONFIG_DIR`` or ``<project>/config``)."""
    return Path(os.environ.get("MODELYARD_CONFIG_DIR") or PROJECT_ROOT / "config")


def data_dir(*parts: str) -> Path:
    """A folder under the runtime data root (``MODELYARD_DATA_DIR`` or ``<project>/data``).

    The folder is created if it does not exist.

    Example:
        >>> data_dir("models").name
        'models'
    """
    root = Path(os.environ.get("MODELYARD_DATA_DIR") or PROJECT_ROOT / "data")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
