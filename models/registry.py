"""The runtime registry: the YAML catalog plus models registered, changed or taken offline at
run time, persisted (``data/registry.sqlite``, or ``DATABASE_URL``) so they survive a restart and
every process on the same store sees them.

Semantics follow OperateGPT's model manager: several deployments serve one model name;
registering a name that exists adds (or replaces, by name) deployments and updates the spec;
``offline`` removes one deployment or the whole model. Every spec has a SHA-256 fingerprint;
a re-registration that changes it records a field-level diff and flags breaking changes
(a removed parameter, a narrowed range, a changed type).

Example:
    >>> registry = Registry()
    >>> result = registry.register({"name": "my-vllm", "provider": "openai",
    ...     "deployments": [{"name": "a", "base_url": "http://127.0.0.1:9000/v1"}]})
    >>> "my-vllm" in registry.names(), result.breaking
    (True, [])
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.errors import CatalogError, RegistryError
from models.availability import Availability, model_availability
from models.catalog import load_catalog
from models.spec import ModelSpec
from store.database import store_location
from store.registry_db import RegistryDB
from store.watch import watch

__all__ = ["ModelEntry", "RegisterResult", "Registry", "spec_diff"]

WHOLE_MODEL = "*"
EXTERNAL_CHECK_SECONDS = 0.5
MISS_RECHECK_SECONDS = 0.05
"""Least time between two change-counter reads caused by unknown model names (:meth:`Registry.recheck`)."""


@dataclass(frozen=True)
class ModelEntry:
    """One model as the rest of Modelyard sees it."""

    spec: ModelSpec
    availability: Availability
    origin: str
    """``catalog`` (from models.yaml) or ``registry`` (registered at run time)."""
    offline_deployments: frozenset[str] = frozenset()

    @property
    def online_deployments(self) -> list[str]:
        return [d.name for d in self.spec.deployments if d.name not in self.offline_deployments]


@dataclass
class RegisterResult:
    name: str
    fingerprint: str
    previous_fingerprint: str | None
    diff: list[dict[str, Any]] = field(default_factory=list)
    breaking: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.fingerprint != self.previous_fingerprint


class Registry:
    """The catalog file overlaid with runtime registrations.

    Args:
        catalog_file: YAML catalog (default ``config/models.yaml``); ``None`` entries are read
            from the default path. Pass ``catalog_specs`` to skip the file entirely.
        db_path: a SQLite file or a database URL (default: ``DATABASE_URL``, else ``data/registry.sqlite``).
    """

    def __init__(
        self,
        catalog_file: Path | None = None,
        db_path: Path | str | None = None,
        catalog_specs: list[ModelSpec] | None = None,
    ):
        self._catalog = {
            s.name: s for s in (catalog_specs if catalog_specs is not None else load_catalog(catalog_file))
        }
        self._db = RegistryDB(db_path or store_location("registry.sqlite"))
        self._lock = threading.Lock()
        self._cache: tuple[int, list[ModelEntry]] | None = None
        self._generation, self._checked_at, self._seen_own = -1, float("-inf"), -1
        self.closed = False
        watch(self, "check_external", EXTERNAL_CHECK_SECONDS, "modelyard-registry-watch")

    # ---- reading ---------------------------------------------------------------------------
    def generation(self) -> int:
        """A number that changes whenever the registry does (for callers' caches).

        This process's own writes show at once; other processes' writes are looked up (the registry's
        change counter, one primary-key read) every ``EXTERNAL_CHECK_SECONDS`` by a background thread
        (:func:`store.watch.watch`): no query on a routed request, none on the event loop.
        """
        if self._checked_at == float("-inf") or self._db.own_writes != self._seen_own:
            self.check_external()
        return self._generation

    def recheck(self) -> bool:
        """For a name this registry does not know: read the change counter now unless it was read in
        the last ``MISS_RECHECK_SECONDS`` (a model another process registered a moment ago is then
        found at once); whether the registry changed."""
        if time.monotonic() - self._checked_at <= MISS_RECHECK_SECONDS:
            return False
        before = self._generation
        self.check_external()
        return self._generation != before

    def check_external(self) -> None:
        """Read the change counter now (the watcher's tick; also after this process wrote)."""
        with self._lock:
            seen_own = self._db.own_writes
            self._generation = self._db.generation()
            self._checked_at, self._seen_own = time.monotonic(), seen_own

    def close(self) -> None:
        """Stop watching for other processes' changes."""
        self.closed = True

    def entries(self) -> list[ModelEntry]:
        """Every model, catalog and runtime, with availability (cached until a write)."""
        gen = self.generation()  # own writes at once, other processes' within EXTERNAL_CHECK_SECONDS
        with self._lock:
            if self._cache and self._cache[0] == gen:
                return self._cache[1]
            stored = self._db.stored_specs()
            offline = self._db.offline_pairs()
        specs = dict(self._catalog)
        origins = dict.fromkeys(specs, "catalog")
        for name, raw in stored.items():
            specs[name], origins[name] = ModelSpec.model_validate(raw), "registry"
        entries = []
        for name, spec in specs.items():
            if (name, WHOLE_MODEL) in offline:
                entries.append(
                    ModelEntry(
                        spec,
                        Availability(False, "taken offline"),
                        origins[name],
                        frozenset(d.name for d in spec.deployments),
                    )
                )
                continue
            down = frozenset(d for (m, d) in offline if m == name)
            entries.append(ModelEntry(spec, model_availability(spec, offline), origins[name], down))
        with self._lock:
            self._cache = (gen, entries)
        return entries

    def get(self, name: str) -> ModelEntry:
        for entry in self.entries():
            if entry.spec.name == name:
                return entry
        raise RegistryError(f"unknown model '{name}'; known: {', '.join(self.names()) or 'none'}")

    def names(self) -> list[str]:
        return [e.spec.name for e in self.entries()]

    def available(self) -> list[ModelEntry]:
        return [e for e in self.entries() if e.availability.available]

    def changes(self, name: str) -> list[dict[str, Any]]:
        """Recorded re-registrations of ``name`` with their diffs."""
        with self._lock:
            return self._db.changes(name)

    # ---- writing ---------------------------------------------------------------------------
    def register(self, spec: ModelSpec | dict[str, Any], owner: str = "") -> RegisterResult:
        """Add a model, or merge deployments into an existing name and update its spec."""
        incoming = _validated(spec)
        with self._lock, self._db.write() as tx:  # read, merge and save with no other writer between
            stored = tx.stored_spec(incoming.name)
            previous = ModelSpec.model_validate(stored) if stored else self._catalog.get(incoming.name)
            merged = _merge(previous, incoming, owner)
            old_fp = previous.fingerprint() if previous else None
            new_fp = merged.fingerprint()
            diff, breaking = spec_diff(previous, merged) if previous else ([], [])
            tx.save_spec(merged.name, merged.model_dump(mode="json"), new_fp, merged.owner)
            if previous and old_fp != new_fp:
                tx.record_change(merged.name, old_fp, new_fp, diff, breaking)
            tx.clear_offline(merged.name, [d.name for d in incoming.deployments])
        return RegisterResult(merged.name, new_fp, old_fp, diff, breaking)

    def offline(self, name: str, deployment: str | None = None) -> None:
        """Take one deployment, or the whole model, offline (persisted)."""
        entry = self.get(name)
        if deployment is not None and deployment not in {d.name for d in entry.spec.deployments}:
            known = ", ".join(d.name for d in entry.spec.deployments)
            raise RegistryError(f"model '{name}' has no deployment '{deployment}'; deployments: {known}")
        with self._lock:
            self._db.set_offline(name, deployment or WHOLE_MODEL)

    def online(self, name: str) -> None:
        """Bring a model and all its deployments back online."""
        entry = self.get(name)
        with self._lock:
            self._db.clear_offline(name, [d.name for d in entry.spec.deployments])


def _validated(spec: ModelSpec | dict[str, Any]) -> ModelSpec:
    if isinstance(spec, ModelSpec):
        return spec
    try:
        return ModelSpec.model_validate(spec)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CatalogError(first["msg"].removeprefix("Value error, "), source="<registry>", field=where) from exc


def _merge(previous: ModelSpec | None, incoming: ModelSpec, owner: str) -> ModelSpec:
    data = incoming.model_dump(mode="json")
    data["owner"] = owner or incoming.owner or (previous.owner if previous else "")
    if previous:
        new_names = {d.name for d in incoming.deployments}
        kept = [d.model_dump(mode="json") for d in previous.deployments if d.name not in new_names]
        data["deployments"] = kept + data["deployments"]
    return ModelSpec.model_validate(data)


def spec_diff(old: ModelSpec, new: ModelSpec) -> tuple[list[dict[str, Any]], list[str]]:
    """Field-level differences ``[{field, old, new}]`` and the breaking ones in words."""
    diff: list[dict[str, Any]] = []
    _walk(old.model_dump(mode="json"), new.model_dump(mode="json"), "", diff)
    breaking: list[str] = []
    for pname, pold in old.params.items():
        pnew = new.params.get(pname)
        if pnew is None:
            breaking.append(f"parameter '{pname}' was removed")
            continue
        if pnew.type != pold.type:
            breaking.append(f"parameter '{pname}' changed type {pold.type} → {pnew.type}")
        if pnew.min is not None and (pold.min is None or pnew.min > pold.min):
            breaking.append(f"parameter '{pname}' range narrowed: min {pold.min} → {pnew.min}")
        if pnew.max is not None and (pold.max is None or pnew.max < pold.max):
            breaking.append(f"parameter '{pname}' range narrowed: max {pold.max} → {pnew.max}")
    for modality in old.modalities.input:
        if modality not in new.modalities.input:
            breaking.append(f"input modality '{modality}' was removed")
    return diff, breaking


def _walk(old: Any, new: Any, path: str, out: list[dict[str, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            _walk(old.get(key), new.get(key), f"{path}.{key}" if path else key, out)
    elif (
        isinstance(old, list) and isinstance(new, list) and all(isinstance(x, dict) and "name" in x for x in old + new)
    ):
        olds, news = {x["name"]: x for x in old}, {x["name"]: x for x in new}
        for key in sorted(set(olds) | set(news)):
            _walk(olds.get(key), news.get(key), f"{path}[{key}]", out)
    elif old != new:
        out.append({"field": path, "old": old, "new": new})
