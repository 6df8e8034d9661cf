"""Thin route modules: one per API surface; each parses, calls the gateway core, renders.

:data:`MODULES` lists the ``APIRouter``-carrying modules ``create_app`` includes, in order.
"""

from app.server.routes import (
    batches,
    files,
    images,
    keys,
    knowledge,
    messages,
    openai_compat,
    operategpt,
    ops,
    prompts,
    registry,
    responses,
    services,
)

MODULES = (
    openai_compat,
    responses,
    messages,
    images,
    files,
    batches,
    prompts,
    services,
    registry,
    operategpt,
    ops,
    keys,
    knowledge,
)

__all__ = ["MODULES"]
