"""docs/deployment.md names every environment variable Modelyard reads, so an operator deploying it
can set them; code that starts reading a new one fails here until the table lists it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "chains", "core", "knowledge", "models", "routers", "store")
READS = re.compile(
    r"""(?:environ\.get|environ\.setdefault|getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']"""  # os.environ.get("X")
    r"""|environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""  # os.environ["X"]
    r"""|^[A-Z_]*_ENV\s*=\s*["']([A-Z][A-Z0-9_]*)["']""",  # THREADS_ENV = "X", read through the constant
    re.MULTILINE,
)


def variables_in_code() -> set[str]:
    found = set()
    for package in PACKAGES:
        for source in (ROOT / package).rglob("*.py"):
            for match in READS.finditer(source.read_text()):
                found.add(next(group for group in match.groups() if group))
    return found


def api_key_envs(node: Any) -> Iterator[str]:
    """Every ``api_key_env`` value in the catalog (the variables deployments read their keys from)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "api_key_env" and isinstance(value, str):
                yield value
            else:
                yield from api_key_envs(value)
    elif isinstance(node, list):
        for item in node:
            yield from api_key_envs(item)


def test_the_scan_finds_the_variables_it_is_meant_to_find() -> None:
    found = variables_in_code()
    # one of each form: environ.get, setdefault, a *_ENV constant
    assert {"DATABASE_URL", "HF_HUB_OFFLINE", "MODELYARD_LLAMACPP_THREADS"} <= found


def test_every_variable_modelyard_reads_is_documented() -> None:
    catalog = yaml.safe_load((ROOT / "config" / "models.yaml").read_text())
    wanted = variables_in_code() | set(api_key_envs(catalog))
    section = (ROOT / "docs" / "deployment.md").read_text().split("\n## Environment\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", section))
    missing = sorted(wanted - documented)
    assert not missing, f"read by Modelyard but not in docs/deployment.md, 'Environment': {missing}"
