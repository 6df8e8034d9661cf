"""``POST /api/v1/chat/completions``: OperateGPT's inference call over the gateway's one chat lifecycle.

The body (``{"input", "model_name"}``, :mod:`app.server.dialects.operategpt`) becomes a chat
completion served by :func:`app.server.routes.completions.chat` with ``endpoint="operategpt"``: the
same key check, model check, cache, routing (balanced across the deployments registered under
``model_name`` with ``/api/server/register``), limits, settlement and request log as
``/v1/chat/completions``. The answer is ``{"success": true, "msg": "execute succeed", "result"}``;
every error — no key, a malformed body, an unknown model, a failed upstream — is
``{"success": false, "msg": "<why>", "result": null}`` with the status the OpenAI route gives.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.server.dialects import operategpt
from app.server.http.auth import ChatKey
from app.server.http.shaped_errors import shaped_error_route
from app.server.routes import completions

__all__ = ["router"]

_PASSED_HEADERS = frozenset({"content-type", "content-length"})

router = APIRouter(prefix="/api/v1", tags=["operategpt"], route_class=shaped_error_route(operategpt.error_body))


@router.post("/chat/completions")
async def inference(body: operategpt.InferenceRequest, request: Request, key: ChatKey) -> Response:
    """Answer ``input`` with a model registered under ``model_name`` (OperateGPT's shapes)."""
    answer = await completions.chat(request, operategpt.to_chat_request(body), key, endpoint="operategpt")
    headers = {name: value for name, value in answer.headers.items() if name not in _PASSED_HEADERS}
    result = operategpt.to_result(orjson.loads(bytes(answer.body)))
    return Response(orjson.dumps(result), media_type="application/json", headers=headers)
