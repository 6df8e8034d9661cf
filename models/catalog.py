"""Reading ``config/models.yaml``: YAML → validated :class:`~models.spec.ModelSpec` list.

A bad file fails with a :class:`~core.errors.CatalogError` naming the file, the line, the field
and what was expected, e.g.::

    config/models.yaml:14, field 'models[1].provider': Input should be 'openai', ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from core.errors import CatalogError
from core.settings import config_dir
from core.yaml_locations import describe, dotted, line_of, parse_yaml
from models.spec import ModelSpec

__all__ = ["catalog_path", "load_catalog", "parse_catalog"]


def catalog_path() -> Path:
    """``models.yaml`` in the configuration folder."""
    return config_dir() / "models.yaml"


def load_catalog(path: Path | None = None) -> list[ModelSpec]:
    """Load and validate a catalog file (default: :func:`catalog_path`)."""
    path = path or catalog_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read the catalog: {exc.strerror}", source=str(path)) from exc
    return parse_catalog(text, source=str(path))


def parse_catalog(text: str, source: str = "<catalog>") -> list[ModelSpec]:
    """Validate catalog YAML text; errors carry ``source``, line and field."""
    root, data = parse_yaml(text, source)
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("models", []), list):
        raise CatalogError("expected a mapping with a 'models:' list", source=source, line=1, field="models")
    specs: list[ModelSpec] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(data.get("models") or []):
        location: tuple[Any, ...] = ("models", index)
        try:
            spec = ModelSpec.model_validate(entry)
        except ValidationError as exc:
            raise _catalog_error(exc, root, location, source) from exc
        line = line_of(root, location)
        if spec.name in seen:
            raise CatalogError(
                f"duplicate model name '{spec.name}' (first defined on line {seen[spec.name]})",
                source=source,
                line=line,
                field=f"models[{index}].name",
            )
        seen[spec.name] = line or 0
        specs.append(spec)
    return specs


def _catalog_error(
    exc: ValidationError, root: yaml.Node | None, location: tuple[Any, ...], source: str
) -> CatalogError:
    message, loc = describe(exc, "check its spelling against the catalog fields", " in this entry")
    loc = location + loc
    return CatalogError(message, source=source, line=line_of(root, loc), field=dotted(loc))
