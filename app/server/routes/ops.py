"""Operations endpoints: ``/metrics`` (Prometheus text), ``/api/usage`` and ``/healthz``."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.server.gateway.state import gateway
from app.server.http.auth import usage_scope
from app.server.http.errors import ApiError

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Request counts, latency and TTFT histograms, tokens, cost and errors."""
    return Response(gateway(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/api/usage")
def usage(
    request: Request,
    key_id: str | None = Depends(usage_scope),
    since: float | None = Query(None, description="epoch seconds; default 24 h ago"),
    until: float | None = Query(None, description="epoch seconds; default now"),
) -> dict[str, Any]:
    """Requests, errors, tokens, cost and mean latency/TTFT per key and model over ``[since, until]``,
    and per service and subscription (``services``: the calls made with subscription keys).

    The admin sees every key and service; a consumer key sees only its own rows, plus the subscriptions
    it holds and those of the services its name owns (a subscription key: its own subscription).
    """
    until = time.time() if until is None else until
    since = until - 86_400 if since is None else since
    if since > until:
        raise ApiError(400, f"since ({since}) is after until ({until})", param="since")
    gw = gateway(request)
    log = gw.log
    log.flush(timeout=2)  # include what was just served
    rows = log.usage(since, until, key_id=key_id)
    viewer = gw.keys.get(key_id) if key_id is not None else None
    services = gw.services.usage(log.usage(since, until), viewer)
    return {
        "since": since,
        "until": until,
        "key_id": key_id,
        "models": rows,
        "services": services,
        "dropped": log.dropped,
    }
