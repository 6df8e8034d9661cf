"""What the Services page shows and does, without Streamlit: the service catalog opened on the gateway's
files, the acting identity, the publish / revise and subscribe forms turned into the catalog's
arguments (or readable errors per field), and rows of services and subscriptions with their usage.

The page acts *as* an :class:`~app.server.gateway.services.Identity` the user picks: the app is the
single-user surface on this machine (the gateway grants a local caller the admin too), so it trusts
the name instead of asking for that team's key.

Example:
    >>> form = ServiceForm(name="say", user_message="Say {word}", rpm=10)
    >>> spec, limits, errors = form.validate()
    >>> (spec.messages[0].content, limits.rpm, errors)
    ('Say {word}', 10, [])
    >>> ServiceForm(name="bad name", user_message="Hi").validate()[2][0].field
    'Name'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.server.gateway.keys import KeyRing
from app.server.gateway.services import ADMIN, Identity, ServiceCatalog, ServiceRefusal, SubscriptionLimits
from app.ui.models_view import FieldError, errors_by_field
from chains.prompt_library import PromptLibrary, PromptSpec, build_prompt
from core.errors import CatalogError
from store.database import store_location
from store.services_db import Approval, ServicesDB

__all__ = [
    "FieldError",
    "ServiceForm",
    "SubscribeForm",
    "errors_by_field",
    "identity_named",
    "known_identities",
    "open_catalog",
    "refusal_error",
    "service_rows",
    "service_totals",
    "subscription_rows",
    "usage_by_subscription",
    "variable_rows",
]

LABELS = {
    "name": "Name",
    "description": "Description",
    "model": "Model",
    "task": "Task",
    "params": "Parameters",
    "messages": "User message",
    "rpm": "Requests per minute",
    "tpm": "Tokens per minute",
    "budget_usd": "Budget (USD)",
}
"""Form labels by the field (of :class:`PromptSpec` or :class:`SubscriptionLimits`) they fill."""

_RULES = {
    "string_pattern_mismatch": "use letters, digits and . _ - only, starting with a letter or digit",
    "string_too_short": "is required",
    "too_short": "is required",
}
"""Pydantic messages that read better rewritten for a form."""


def open_catalog(data: Path, prompts_dir: Path | None = None) -> ServiceCatalog:
    """The catalog over the gateway's stores — ``DATABASE_URL`` when set, else the files in ``data``
    (``services.sqlite``, ``keys.sqlite``) — and the prompt files (default ``config/prompts``): what the
    page changes is what the gateway serves."""
    services, keys = store_location("services.sqlite", data), store_location("keys.sqlite", data)
    return ServiceCatalog(ServicesDB(services), KeyRing(keys), PromptLibrary(prompts_dir))


def identity_named(name: str) -> Identity:
    """The identity the page acts as: ``admin`` is the admin, any other name a team."""
    name = name.strip()
    return Identity(ADMIN, admin=True) if name == ADMIN else Identity(name)


def known_identities(catalog: ServiceCatalog) -> list[str]:
    """Names to suggest: the general consumer keys' names, owners and subscribers, then ``admin``."""
    names = {key.stored.name for key in catalog.keys.keys() if key.service is None and key.stored.active}
    names |= {service["owner"] for service in catalog.services()}
    names |= {sub["subscriber"] for sub in catalog.subscriptions(identity_named(ADMIN))}
    return sorted(names - {ADMIN}) + [ADMIN]


def _message(error: Any) -> str:
    bounds = error.get("ctx") or {}
    if error["type"] == "greater_than":
        return f"must be more than {bounds['gt']} (0 = no limit)"
    if error["type"] == "greater_than_equal":
        return f"must be {bounds['ge']} or more"
    if error["type"] == "less_than_equal":
        return f"must be {bounds['le']} or less"
    return _RULES.get(error["type"], error["msg"].removeprefix("Value error, "))


def _field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors():
        where = str(error["loc"][0]) if error["loc"] else ""
        errors.append(FieldError(LABELS.get(where, where.capitalize() or "Service"), _message(error)))
    return errors


def _limit(value: float) -> float | None:
    """A number input's limit: 0 means none; a negative value is kept for the validator to refuse."""
    return None if value == 0 else value


def limits_of(rpm: int, tpm: int, budget_usd: float) -> tuple[SubscriptionLimits | None, list[FieldError]]:
    """Limits from three number inputs (0 = no limit), or the errors per field."""
    try:
        return SubscriptionLimits(rpm=_limit(rpm), tpm=_limit(tpm), budget_usd=_limit(budget_usd)), []
    except ValidationError as exc:
        return None, _field_errors(exc)


@dataclass
class ServiceForm:
    """The publish / revise form's values (empty strings mean "not given"; 0 = no limit)."""

    name: str = ""
    description: str = ""
    model: str = "auto"
    task: str = ""
    params: str = ""
    """A YAML mapping of call parameters (``temperature: 0.2``)."""
    system_message: str = ""
    user_message: str = ""
    approval: Approval = "manual"
    rpm: int = 0
    tpm: int = 0
    budget_usd: float = 0.0

    @classmethod
    def of(cls, service: dict[str, Any]) -> ServiceForm:
        """The form filled with a service's latest content and settings (what *Revise* starts from)."""
        by_role = {m["role"]: m["content"] for m in service["messages"]}
        limits = service["limits"]
        params = yaml.safe_dump(service["params"], sort_keys=True).strip() if service["params"] else ""
        return cls(
            name=service["name"],
            description=service["description"],
            model=service["model"],
            task=service["task"] or "",
            params=params,
            system_message=by_role.get("system", ""),
            user_message=by_role.get("user", ""),
            approval=service["approval"],
            rpm=limits.get("rpm") or 0,
            tpm=limits.get("tpm") or 0,
            budget_usd=limits.get("budget_usd") or 0.0,
        )

    def validate(self) -> tuple[PromptSpec | None, SubscriptionLimits | None, list[FieldError]]:
        """The prompt spec and limits, or every problem found, per form field."""
        errors: list[FieldError] = []
        params: Any = {}
        try:
            params = yaml.safe_load(self.params) if self.params.strip() else {}
        except yaml.YAMLError as exc:
            errors.append(FieldError("Parameters", f"is not YAML: {str(exc).splitlines()[0]}"))
        if not isinstance(params, dict):
            errors.append(FieldError("Parameters", "must be a mapping such as 'temperature: 0.2'"))
            params = {}
        messages = [{"role": "system", "content": self.system_message.strip()}] if self.system_message.strip() else []
        if self.user_message.strip():
            messages.append({"role": "user", "content": self.user_message.strip()})
        data = {
            "name": self.name.strip(),
            "description": self.description.strip(),
            "model": self.model.strip() or "auto",
            "task": self.task.strip() or None,
            "params": params,
            "messages": messages,
        }
        spec: PromptSpec | None = None
        try:
            spec = PromptSpec.model_validate(data)
        except ValidationError as exc:
            errors += _field_errors(exc)
        if not data["name"]:
            errors.insert(0, FieldError("Name", "is required"))
        if spec is not None and not errors:
            try:
                build_prompt(spec, data["name"], Path(f"<service {data['name']}>"))
            except CatalogError as exc:
                errors.append(FieldError(_message_label(exc.field, messages), exc.reason))
        limits, limit_errors = limits_of(self.rpm, self.tpm, self.budget_usd)
        errors += limit_errors
        return (None, None, errors) if errors else (spec, limits, [])


def _message_label(field: str | None, messages: list[dict[str, str]]) -> str:
    """The form label of a template error's field: ``messages[0].content`` is the system message when
    there is one."""
    found = re.match(r"messages\[(\d+)\]", field or "")
    index = int(found.group(1)) if found else len(messages) - 1
    return "System message" if 0 <= index < len(messages) and messages[index]["role"] == "system" else "User message"


@dataclass
class SubscribeForm:
    """The limits a subscriber asks for (0 = as much as the service allows)."""

    rpm: int = 0
    tpm: int = 0
    budget_usd: float = 0.0

    def validate(self, maximum: dict[str, Any]) -> tuple[SubscriptionLimits | None, list[FieldError]]:
        """The limits asked for, or errors: a bad number, or one above the service's ``maximum``."""
        asked, errors = limits_of(self.rpm, self.tpm, self.budget_usd)
        if asked is None:
            return None, errors
        for name, value in asked.model_dump(exclude_none=True).items():
            most = maximum.get(name)
            if most is not None and value > most:
                errors.append(FieldError(LABELS[name], f"must be {most:g} or less (the service's limit)"))
        return (None, errors) if errors else (asked, [])


def refusal_error(exc: ServiceRefusal) -> FieldError:
    """A refusal of the catalog as a field error (``name`` in use → *Name*), else one for the whole form."""
    return FieldError(LABELS.get(exc.param or "", "Service"), exc.message)


def service_rows(services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per service for the browse table."""
    return [
        {
            "service": s["name"],
            "description": s["description"],
            "owner": s["owner"],
            "model": s["model"],
            "approval": s["approval"],
            "latest version": s["latest_version"],
            "variables": ", ".join(v["name"] for v in s["variables"]),
            "limits": _limits_text(s["limits"]),
            "origin": s["origin"],
        }
        for s in services
    ]


def variable_rows(service: dict[str, Any]) -> list[dict[str, Any]]:
    """A service version's variables: name, required, default, description."""
    return [
        {
            "variable": v["name"],
            "required": v["required"],
            "default": "" if v["default"] is None else str(v["default"]),
            "description": v["description"],
        }
        for v in service["variables"]
    ]


def _limits_text(limits: dict[str, Any]) -> str:
    parts = [f"{limits['rpm']} rpm" if limits.get("rpm") else "", f"{limits['tpm']} tpm" if limits.get("tpm") else ""]
    if limits.get("budget_usd") is not None:
        parts.append(f"${limits['budget_usd']:g}")
    return ", ".join(p for p in parts if p) or "none"


def usage_by_subscription(catalog: ServiceCatalog, log_usage: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Request-log totals (``RequestLog.usage`` rows) per subscription id, as ``/api/usage`` sums them."""
    return {total["subscription_id"]: total for total in catalog.usage(log_usage, None)}


def subscription_rows(subscriptions: list[dict[str, Any]], usage: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per subscription: who, status, the key's limits and prefix, and its calls so far."""
    rows = []
    for sub in subscriptions:
        key, used = sub["key"], usage.get(sub["id"], {})
        rows.append(
            {
                "subscription": sub["id"],
                "service": sub["service"],
                "subscriber": sub["subscriber"],
                "status": sub["status"],
                "limits": _limits_text(key),
                "key": f"{key['prefix']}…" if key.get("prefix") else "",
                "requests": used.get("requests", 0),
                "errors": used.get("errors", 0),
                "tokens": used.get("input_tokens", 0) + used.get("output_tokens", 0),
                "cost (USD)": round(used.get("cost_usd", 0.0), 6),
                "decided by": sub["decided_by"] or "",
                "reason": sub["reason"] or "",
            }
        )
    return rows


def service_totals(
    names: list[str], subscriptions: list[dict[str, Any]], usage: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per service in ``names``: its subscribers (not revoked), and the requests, tokens and cost of every
    subscription's calls so far.

    Example:
        >>> subs = [{"id": "sub_1", "service": "say", "subscriber": "team-b", "status": "approved"}]
        >>> used = {"sub_1": {"requests": 2, "input_tokens": 5, "output_tokens": 3, "cost_usd": 0.5}}
        >>> service_totals(["say"], subs, used)
        [{'service': 'say', 'subscribers': 1, 'requests': 2, 'tokens': 8, 'cost_usd': 0.5}]
    """
    totals = []
    for name in names:
        mine = [sub for sub in subscriptions if sub["service"] == name]
        used = [usage.get(sub["id"], {}) for sub in mine]
        totals.append(
            {
                "service": name,
                "subscribers": len({sub["subscriber"] for sub in mine if sub["status"] != "revoked"}),
                "requests": sum(u.get("requests", 0) for u in used),
                "tokens": sum(u.get("input_tokens", 0) + u.get("output_tokens", 0) for u in used),
                "cost_usd": sum(u.get("cost_usd", 0.0) for u in used),
            }
        )
    return totals
