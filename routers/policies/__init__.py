"""Routing policies: each narrows or reorders the candidate models and says why.

A policy is a small object with ``name`` and ``apply(request, candidates, record)``; the
:class:`~routers.router.RouterRunnable` runs them in the order ``config/routing.yaml`` gives.
Adding one is a new module here plus one line in :data:`POLICIES`: the routing config accepts
its name and the router builds it from there.

Example:
    >>> list(POLICIES)
    ['explicit', 'modality', 'context_window', 'task', 'ab', 'cost']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from routers.policies.ab import ABPolicy
from routers.policies.base import Policy
from routers.policies.context_window import ContextWindowPolicy
from routers.policies.cost import CostPolicy
from routers.policies.explicit import ExplicitPolicy
from routers.policies.modality import ModalityPolicy
from routers.policies.task import TaskPolicy

__all__ = ["POLICIES", "Policy", "PolicyFactory"]

PolicyFactory = Callable[[Any], Policy]
"""Builds a policy for a router (it reads the router's registry, config, classifier, experiments)."""

POLICIES: dict[str, PolicyFactory] = {
    "explicit": lambda router: ExplicitPolicy(router.registry.entries),
    "modality": lambda router: ModalityPolicy(),
    "context_window": lambda router: ContextWindowPolicy(router.config.cost.expected_output_tokens),
    "task": lambda router: TaskPolicy(router.classifier),
    "ab": lambda router: ABPolicy(router.experiments),
    "cost": lambda router: CostPolicy(router.config.cost, keep=router.config.max_fallback_models + 1),
}
"""Every policy by the name ``config/routing.yaml`` uses for it, in the default order."""
