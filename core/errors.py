"""Modelyard's exception hierarchy.

Every error a caller may want to handle derives from :class:`ModelyardError`. Surfaces (the
UI, the HTTP server) translate these into messages and status codes; nothing below ``app/``
chooses an HTTP status.

    ModelyardError
    ├── CatalogError          a catalog file or model spec is invalid (file, line, field)
    ├── RegistryError         a runtime registry operation cannot be done
    ├── RequestError          the caller's request cannot be served as asked (``param`` names the field)
    │   └── ParameterError    a call parameter is unknown or out of range
    ├── RoutingError          no model could serve the request (lists every attempt)
    ├── ModerationBlocked     input or output was refused by a moderation policy
    ├── KnowledgeError        a knowledge-base operation failed (bad name, missing collection,
    │                         unreadable document)
    ├── SharedStateUnavailable  the server replicas share state on (Redis) cannot be reached
    ├── StoreError            a store's database cannot be opened or migrated (URL without password)
    └── ProviderError         a model provider failed (provider, model, deployment, status)
        ├── ProviderConnectionError   could not connect
        ├── ProviderTimeout           no answer in time
        ├── ProviderRateLimited       429; carries ``retry_after`` seconds when given
        ├── ProviderServerError       5xx
        ├── ProviderRequestError      other 4xx (bad request, auth, not found)
        └── ProviderResponseError     the answer could not be understood
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CatalogError",
    "KnowledgeError",
    "ModelyardError",
    "ModerationBlocked",
    "ParameterError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderRequestError",
    "ProviderResponseError",
    "ProviderServerError",
    "ProviderTimeout",
    "RegistryError",
    "RequestError",
    "RoutingError",
    "SharedStateUnavailable",
    "StoreError",
]


class ModelyardError(Exception):
    """Base class of every Modelyard error."""


class CatalogError(ModelyardError):
    """A catalog file or model spec is invalid.

    Attributes:
        source: the file (or ``<registry>``) the spec came from.
        line: 1-based line of the offending value, when known.
        field: dotted path of the offending field, when known.
    """

    def __init__(self, message: str, *, source: str = "", line: int | None = None, field: str = ""):
        self.source, self.line, self.field, self.reason = source, line, field, message
        where = source + (f":{line}" if line else "")
        prefix = ", ".join(p for p in (where, f"field '{field}'" if field else "") if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class RegistryError(ModelyardError):
    """A runtime registry operation cannot be carried out (e.g. unknown model)."""


class RequestError(ModelyardError):
    """The caller's request cannot be served as asked.

    Attributes:
        param: the request field at fault (``temperature``, ``variables.text`` …), when known.

    Example:
        >>> RequestError("no such variable", param="variables.x").param
        'variables.x'
    """

    def __init__(self, message: str, *, param: str | None = None):
        self.param = param
        super().__init__(message)


class ParameterError(RequestError):
    """A call parameter is unknown to the model or outside its allowed range (``param`` names it)."""


class SharedStateUnavailable(ModelyardError):
    """The server the gateway replicas share limits on (Redis, ``REDIS_URL``) cannot be reached;
    what needs it is refused rather than served unchecked (fail closed)."""


class StoreError(ModelyardError):
    """A store's database (a SQLite file or ``DATABASE_URL``) cannot be opened or brought to its
    schema; the message names it without its password."""


class KnowledgeError(ModelyardError):
    """A knowledge-base operation failed: invalid collection name, unknown collection, or a
    document that cannot be read (``knowledge.loaders.UnreadableDocument``)."""


class ModerationBlocked(ModelyardError):
    """A moderation policy refused the text; ``categories`` names why."""

    def __init__(self, message: str, categories: list[str] | None = None):
        self.categories = categories or []
        super().__init__(message)


@dataclass
class Attempt:
    """One try of the router: which model/deployment, and how it ended."""

    model: str
    deployment: str = ""
    error: str = ""


class RoutingError(ModelyardError):
    """No model could serve the request. ``attempts`` lists every try and its error."""

    def __init__(self, message: str, attempts: list[Attempt] | None = None, available: list[str] | None = None):
        self.attempts = attempts or []
        self.available = available or []
        detail = "; ".join(f"{a.model}/{a.deployment or '-'}: {a.error}" for a in self.attempts)
        super().__init__(f"{message} (attempts: {detail})" if detail else message)


@dataclass
class ProviderErrorInfo:
    """Context carried by every provider error."""

    provider: str = ""
    model: str = ""
    deployment: str = ""
    status: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ProviderError(ModelyardError):
    """A model provider failed. Built by :func:`models.provider_errors.translate` only."""

    #: whether this failure should count against a deployment's health
    counts_against_health = True

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        model: str = "",
        deployment: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ):
        self.provider, self.model, self.deployment = provider, model, deployment
        self.status, self.retry_after, self.reason = status, retry_after, message
        where = "/".join(p for p in (provider, model, deployment) if p)
        code = f" (HTTP {status})" if status else ""
        super().__init__(f"{where}: {message}{code}" if where else f"{message}{code}")


class ProviderConnectionError(ProviderError):
    """The provider could not be reached."""


class ProviderTimeout(ProviderError):
    """The provider did not answer within the timeout."""


class ProviderRateLimited(ProviderError):
    """The provider answered 429; ``retry_after`` holds its Retry-After in seconds."""


class ProviderServerError(ProviderError):
    """The provider answered with a 5xx status."""


class ProviderRequestError(ProviderError):
    """The provider rejected the request (4xx other than 429): our fault, not its health."""

    counts_against_health = False


class ProviderResponseError(ProviderError):
    """The provider's answer could not be understood (e.g. an extract path did not match)."""

    counts_against_health = False
