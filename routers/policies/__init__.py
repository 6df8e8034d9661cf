"""Routing policies: each narrows or reorders the candidate models and says why.

A policy is a small object with ``name`` and ``apply(request, candidates, record)``; the
:class:`~routers.router.RouterRunnable` runs them in the order ``config/routing.yaml`` gives.
"""

from routers.policies.base import Policy

__all__ = ["Policy"]
