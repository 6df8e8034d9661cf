"""Published prompt services: publish, version, subscribe, approve, and who may call which.

A **service** is a prompt template with its model (or ``auto``), parameters and description — the
content of a :class:`~chains.prompt_library.PromptSpec` — plus an owner, an approval mode
(``manual``: the owner approves each subscription; ``auto``: approved at once) and the limits a
subscription key gets at most. Content is versioned (:mod:`store.services_db`): a revision that
changes it adds a version; callers follow the latest or pin one per call; :meth:`ServiceCatalog.diff`
shows a unified diff of two versions' canonical YAML.

**Identities.** The portal acts for an :class:`Identity`: a general consumer key's *name* (the team
the admin issued it for with ``POST /api/keys``; several keys of one name are one identity), or the
admin (the master key, or a local caller while none is set). Owners and subscribers are identities.

A **subscription** issues a consumer key scoped to that one service (``ApiKey.service``), with its own
rpm / tpm / budget, at once — its secret is returned to the subscriber once — but the key calls the
service only while the subscription is approved. Revoking revokes the key.

The prompt files in ``config/prompts/`` are services too, owned by ``operator`` with ``auto``
approval and one version (the file as it is now; its history is the repository's), and they stay
callable at ``/api/prompts/{name}`` with any general key as before.

Nothing here knows about HTTP: a refusal is a :class:`ServiceRefusal` whose ``code`` the route maps
to a status.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from app.server.gateway.keys import ApiKey, KeyRing
from chains.prompt_library import Prompt, PromptLibrary, PromptSpec, build_prompt
from store.services_db import Approval, ServicesDB, Status, StoredService, StoredSubscription, StoredVersion

__all__ = [
    "ADMIN",
    "OPERATOR",
    "Identity",
    "ServiceCatalog",
    "ServiceRefusal",
    "SubscriptionLimits",
]

ADMIN = "admin"
"""The identity of the master key (or a local caller while no master key is set)."""
OPERATOR = "operator"
"""The owner of the file-based prompts in ``config/prompts/``."""


@dataclass(frozen=True)
class Identity:
    """Who acts on the portal: a general consumer key's name, or the admin.

    Example:
        >>> Identity("team-a").may_manage("team-a"), Identity(ADMIN, admin=True).may_manage("team-b")
        (True, True)
    """

    name: str
    admin: bool = False

    def may_manage(self, owner: str) -> bool:
        """Whether this identity may change or decide for a service owned by ``owner``."""
        return self.admin or self.name == owner


class SubscriptionLimits(BaseModel):
    """Limits of a subscription key: the service's maximum, or what a subscriber asks for below it.

    Example:
        >>> SubscriptionLimits(rpm=60).capped(SubscriptionLimits(rpm=10, budget_usd=1.0))
        SubscriptionLimits(rpm=10, tpm=None, budget_usd=1.0)
    """

    model_config = ConfigDict(extra="forbid")

    rpm: int | None = Field(None, gt=0, le=1_000_000_000)
    """Requests per rolling minute; ``None`` = unlimited."""
    tpm: int | None = Field(None, gt=0, le=1_000_000_000_000)
    """Tokens (input + output) per rolling minute; ``None`` = unlimited."""
    budget_usd: float | None = Field(None, ge=0, le=1e12, allow_inf_nan=False)
    """Total USD the key may spend; ``None`` = no budget."""

    def capped(self, maximum: SubscriptionLimits) -> SubscriptionLimits:
        """Each limit no looser than ``maximum``'s."""
        values: dict[str, Any] = {}
        for name in ("rpm", "tpm", "budget_usd"):
            mine, most = getattr(self, name), getattr(maximum, name)
            values[name] = most if mine is None else mine if most is None else min(mine, most)
        return SubscriptionLimits(**values)


class ServiceRefusal(Exception):
    """Why a portal action or a service call is refused; ``code`` names the kind (the route picks the status).

    Codes: ``not_found``, ``exists``, ``not_owner``, ``not_subscribed``, ``already_subscribed``,
    ``pending_approval``, ``rejected``, ``revoked``, ``wrong_status``.
    """

    def __init__(self, code: str, message: str, param: str | None = None):
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


def fingerprint(content: dict[str, Any]) -> str:
    """SHA-256 of a version's canonical JSON."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def canonical_yaml(content: dict[str, Any]) -> str:
    """A version's content as sorted, block-style YAML (what :meth:`ServiceCatalog.diff` compares)."""
    return yaml.safe_dump(content, sort_keys=True, allow_unicode=True, default_flow_style=False)


class ServiceCatalog:
    """The published services and the file prompts, their versions and subscriptions.

    Args:
        db: the services' SQLite store.
        keys: the gateway's key ring (subscription keys are consumer keys with ``service`` set).
        prompts: the file prompts, listed as services owned by :data:`OPERATOR`.

    Example:
        >>> catalog = ServiceCatalog(ServicesDB(tmp_path / "s.sqlite"), keys, PromptLibrary())  # doctest: +SKIP
        >>> spec = PromptSpec(messages=[{"role": "user", "content": "Say {word}"}])  # doctest: +SKIP
        >>> owner = Identity("team-a")  # doctest: +SKIP
        >>> catalog.publish("say", spec, "manual", SubscriptionLimits(), owner)["version"]  # doctest: +SKIP
        1
    """

    def __init__(self, db: ServicesDB, keys: KeyRing, prompts: PromptLibrary):
        self.db, self.keys, self.prompts = db, keys, prompts
        self._built: dict[tuple[str, int], Prompt] = {}
        """Prompts of published versions (immutable, so built once)."""

    # ---- services --------------------------------------------------------------------------
    def services(self) -> list[dict[str, Any]]:
        """Every service (published and file prompts) with its latest version, by name."""
        names = {s.name for s in self.db.services()} | {p.name for p in self.prompts.prompts()}
        return [self.describe(name) for name in sorted(names)]

    def describe(self, name: str, version: int | None = None) -> dict[str, Any]:
        """One service: settings, the chosen version's content (default the latest) and the version list."""
        service = self._service(name)
        chosen = self._version(name, version)
        versions = self.db.versions(name) or [chosen]  # a file prompt has one, not stored
        prompt, _ = self.prompt(name, chosen.version)
        return {
            "name": name,
            "owner": service.owner,
            "approval": service.approval,
            "limits": service.limits,
            "origin": "published" if self.db.service(name) else "file",
            "version": chosen.version,
            "latest_version": versions[-1].version,
            "versions": [{"version": v.version, "created": v.created, "created_by": v.created_by} for v in versions],
            **{key: value for key, value in prompt.describe().items() if key != "name"},
            "messages": [m.model_dump() for m in prompt.spec.messages],
        }

    def publish(
        self, name: str, content: PromptSpec, approval: Approval, limits: SubscriptionLimits, owner: Identity
    ) -> dict[str, Any]:
        """Create a service at version 1, owned by ``owner``.

        Raises:
            ServiceRefusal: ``exists`` (a published service or a prompt file has the name).
            CatalogError: the template cannot be parsed or uses an undeclared variable.
        """
        data = _content(content)
        build_prompt(content, name, Path(f"<service {name}>"))  # a template that cannot be built is refused now
        if name in {p.name for p in self.prompts.prompts()}:
            raise ServiceRefusal("exists", f"'{name}' is a prompt file in config/prompts/; choose another name", "name")
        stored = StoredService(name, owner.name, approval, limits.model_dump(exclude_none=True))
        try:
            self.db.create(stored, data, fingerprint(data), owner.name)
        except KeyError:
            raise ServiceRefusal(
                "exists", f"service '{name}' exists; its owner changes it with PUT /api/services/{name}", "name"
            ) from None
        return self.describe(name)

    def revise(
        self,
        name: str,
        content: PromptSpec,
        approval: Approval,
        limits: SubscriptionLimits,
        by: Identity,
    ) -> dict[str, Any]:
        """Change a service: new content adds a version (the same content does not); settings change in place."""
        service = self._published(name)
        self._require_manager(service, by, "change")
        data = _content(content)
        build_prompt(content, name, Path(f"<service {name}>"))
        before = self._version(name, None)
        version, created = self.db.add_version(name, data, fingerprint(data), by.name)
        self.db.update_settings(name, approval, limits.model_dump(exclude_none=True))
        answer = self.describe(name)
        answer["changed"] = created
        answer["diff"] = self.diff(name, before.version, version.version)["diff"] if created else ""
        return answer

    def diff(self, name: str, old: int, new: int) -> dict[str, Any]:
        """A unified diff of two versions' canonical YAML."""
        before, after = self._version(name, old), self._version(name, new)
        lines = difflib.unified_diff(
            canonical_yaml(before.spec).splitlines(keepends=True),
            canonical_yaml(after.spec).splitlines(keepends=True),
            fromfile=f"{name}@{old}",
            tofile=f"{name}@{new}",
        )
        return {"name": name, "from": old, "to": new, "diff": "".join(lines)}

    def prompt(self, name: str, version: int | None = None) -> tuple[Prompt, int]:
        """The runnable prompt of ``name`` at ``version`` (default the latest), and that version's number."""
        chosen = self._version(name, version)
        if self.db.service(name) is None:
            return self._file_prompt(name), chosen.version
        built = self._built.get((name, chosen.version))
        if built is None:
            spec = PromptSpec.model_validate(chosen.spec)
            built = self._built[(name, chosen.version)] = build_prompt(
                spec, name, Path(f"<service {name}@{chosen.version}>")
            )
        return built, chosen.version

    # ---- subscriptions ---------------------------------------------------------------------
    def subscribe(self, name: str, subscriber: Identity, asked: SubscriptionLimits) -> tuple[dict[str, Any], str]:
        """Subscribe ``subscriber``: a subscription and its key's secret (shown this once).

        The key exists at once but calls the service only once approved (at once under ``auto``).
        """
        service = self._service(name)
        for existing in self.db.subscriptions(name):
            if existing.subscriber == subscriber.name and existing.status in ("pending", "approved"):
                raise ServiceRefusal(
                    "already_subscribed",
                    f"{subscriber.name} already has subscription {existing.id} to '{name}' ({existing.status}); "
                    f"revoke it with DELETE /api/services/{name}/subscriptions/{existing.id} to subscribe again",
                )
        limits = asked.capped(SubscriptionLimits.model_validate(service.limits))
        created = self.keys.create(
            f"{subscriber.name}@{name}", (), limits.rpm, limits.tpm, limits.budget_usd, service=name
        )
        auto = service.approval == "auto"
        subscription = StoredSubscription(
            id=f"sub_{secrets.token_hex(6)}",
            service=name,
            subscriber=subscriber.name,
            key_id=created.key.id,
            status="approved" if auto else "pending",
            created=time.time(),
            decided_at=time.time() if auto else None,
            decided_by="auto" if auto else None,
        )
        self.db.subscribe(subscription)
        return self._subscription_view(subscription, service), created.secret

    def decide(
        self, name: str, subscription_id: str, by: Identity, approve: bool, reason: str | None
    ) -> dict[str, Any]:
        """Approve (a pending or rejected subscription) or reject (a pending one): the owner or the admin."""
        service = self._service(name)
        self._require_manager(service, by, "approve or reject subscriptions of")
        current = self._subscription(name, subscription_id)
        status: Status = "approved" if approve else "rejected"
        allowed_from: tuple[Status, ...] = ("pending", "rejected") if approve else ("pending",)
        decided = self.db.decide(subscription_id, status, by.name, reason, allowed_from)
        if decided is None:
            raise ServiceRefusal(
                "wrong_status",
                f"subscription {subscription_id} is {current.status}; only a {' or '.join(allowed_from)} one can be "
                f"{status}",
            )
        return self._subscription_view(decided, service)

    def revoke(self, name: str, subscription_id: str, by: Identity) -> dict[str, Any]:
        """End a subscription and revoke its key: its subscriber, the service's owner or the admin."""
        service = self._service(name)
        current = self._subscription(name, subscription_id)
        if not (by.may_manage(service.owner) or by.name == current.subscriber):
            raise ServiceRefusal(
                "not_owner", f"only {current.subscriber}, the owner {service.owner} or the admin may revoke it"
            )
        decided = self.db.decide(subscription_id, "revoked", by.name, None, ("pending", "approved", "rejected"))
        self.keys.revoke(current.key_id)
        return self._subscription_view(decided or current, service)

    def subscriptions(self, viewer: Identity, name: str | None = None) -> list[dict[str, Any]]:
        """The subscriptions ``viewer`` may see: their own, and every one of the services they own."""
        owners = {s.name: s.owner for s in self.db.services()}
        views = []
        for sub in self.db.subscriptions(name):
            owner = owners.get(sub.service, OPERATOR)
            if viewer.may_manage(owner) or viewer.name == sub.subscriber:
                views.append(self._subscription_view(sub, self._service(sub.service)))
        return views

    # ---- calls -----------------------------------------------------------------------------
    def admit(self, name: str, key: ApiKey | None) -> None:
        """Whether ``key`` may call service ``name`` now (``None``: the master key or an open server may).

        Raises:
            ServiceRefusal: ``not_found``; ``not_subscribed`` (a general key); ``pending_approval``,
                ``rejected`` or ``revoked`` (the key's subscription).
        """
        self._service(name)
        if key is None:
            return
        subscription = self.db.subscription_of_key(key.id) if key.service == name else None
        if subscription is None:
            raise ServiceRefusal(
                "not_subscribed",
                f"service '{name}' is called with a subscription key: subscribe with POST "
                f"/api/services/{name}/subscriptions (with your own key), then call with the secret it returns",
            )
        owner = self._service(name).owner
        if subscription.status == "pending":
            raise ServiceRefusal(
                "pending_approval",
                f"subscription {subscription.id} to '{name}' is waiting for approval by its owner {owner}; "
                "this key works once it is approved",
            )
        if subscription.status == "rejected":
            why = f": {subscription.reason}" if subscription.reason else ""
            raise ServiceRefusal(
                "rejected",
                f"subscription {subscription.id} to '{name}' was rejected by {subscription.decided_by}{why}; "
                f"ask {owner}, or subscribe again",
            )
        if subscription.status == "revoked":
            raise ServiceRefusal("revoked", f"subscription {subscription.id} to '{name}' has been revoked")

    def usage(self, rows: list[dict[str, Any]], viewer: ApiKey | None) -> list[dict[str, Any]]:
        """Request-log totals (``RequestLog.usage`` rows) per service and subscription, as ``viewer``
        may see them: the admin (``None``) every one; a subscription key its own; a general key the
        subscriptions it holds and those of the services its name owns."""
        by_key = {sub.key_id: sub for sub in self.db.subscriptions()}
        owners = {s.name: s.owner for s in self.db.services()}
        totals: dict[str, dict[str, Any]] = {}
        for row in rows:
            sub = by_key.get(row["key_id"])
            if sub is None:
                continue
            owner = owners.get(sub.service, OPERATOR)
            if viewer is not None:
                mine = sub.key_id == viewer.id if viewer.service else viewer.stored.name in (owner, sub.subscriber)
                if not mine:
                    continue
            total = totals.setdefault(
                sub.id,
                {
                    "service": sub.service,
                    "owner": owner,
                    "subscription_id": sub.id,
                    "subscriber": sub.subscriber,
                    "requests": 0,
                    "errors": 0,
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "cost_usd": 0.0,
                },
            )
            for field in ("requests", "errors", "input_tokens", "output_tokens", "cost_usd"):
                total[field] += row[field] or 0
        return sorted(totals.values(), key=lambda t: (t["service"], t["subscriber"]))

    # ---- lookups ---------------------------------------------------------------------------
    def _service(self, name: str) -> StoredService:
        service = self.db.service(name)
        if service is not None:
            return service
        if name in {p.name for p in self.prompts.prompts()}:
            return StoredService(name, OPERATOR, "auto")
        known = sorted({s.name for s in self.db.services()} | {p.name for p in self.prompts.prompts()})
        raise ServiceRefusal("not_found", f"no service named '{name}'; known: {', '.join(known) or 'none'}", "name")

    def _published(self, name: str) -> StoredService:
        service = self._service(name)
        if self.db.service(name) is None:
            raise ServiceRefusal(
                "not_owner", f"'{name}' is a prompt file in config/prompts/: the operator changes it there", "name"
            )
        return service

    def _version(self, name: str, version: int | None) -> StoredVersion:
        self._service(name)
        if self.db.service(name) is None:  # a file prompt: one version, the file as it is now
            spec = self._file_prompt(name).spec.model_dump(exclude={"name"})
            if version not in (None, 1):
                raise ServiceRefusal("not_found", f"'{name}' is a prompt file with one version, 1", "version")
            return StoredVersion(name, 1, spec, fingerprint(spec), 0.0, OPERATOR)
        found = self.db.version(name, version)
        if found is None:
            latest = self.db.version(name)
            raise ServiceRefusal(
                "not_found",
                f"service '{name}' has no version {version}; versions: 1 to {latest.version if latest else 0}",
                "version",
            )
        return found

    def _file_prompt(self, name: str) -> Prompt:
        try:
            return self.prompts.get(name)
        except KeyError as exc:
            raise ServiceRefusal("not_found", exc.args[0], "name") from None

    def _subscription(self, name: str, subscription_id: str) -> StoredSubscription:
        found = self.db.subscription(subscription_id)
        if found is None or found.service != name:
            raise ServiceRefusal(
                "not_found", f"service '{name}' has no subscription '{subscription_id}'", "subscription_id"
            )
        return found

    def _require_manager(self, service: StoredService, by: Identity, action: str) -> None:
        if not by.may_manage(service.owner):
            raise ServiceRefusal(
                "not_owner", f"only its owner {service.owner} or the admin may {action} service '{service.name}'"
            )

    def _subscription_view(self, sub: StoredSubscription, service: StoredService) -> dict[str, Any]:
        key = self.keys.get(sub.key_id)
        key_view = self.keys.view(key) if key is not None else {}
        return {
            "id": sub.id,
            "service": sub.service,
            "owner": service.owner,
            "subscriber": sub.subscriber,
            "status": sub.status,
            "created": sub.created,
            "decided_at": sub.decided_at,
            "decided_by": sub.decided_by,
            "reason": sub.reason,
            "key": {name: key_view.get(name) for name in ("id", "prefix", "rpm", "tpm", "budget_usd", "spent_usd")},
        }


def _content(spec: PromptSpec) -> dict[str, Any]:
    """A version's content: the prompt spec without its name (the service's name is fixed)."""
    return spec.model_dump(mode="json", exclude={"name"})
