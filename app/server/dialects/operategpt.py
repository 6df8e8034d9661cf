"""OperateGPT's inference call as a translation to and from a chat completion.

OperateGPT's model manager (``operategpt/llms/worker_manager.py``) answers
``POST /api/v1/chat/completions`` with ``{"input": "who are you?", "model_name": "proxyllm"}``
(``model_name`` defaults to ``proxyllm``) by calling one of the workers registered under that
name and answering ``{"success": true, "msg": "execute succeed", "result": "<text>"}``; a failure
is ``{"success": false, "msg": "<why>"}``. Here ``input`` becomes the one user message of a
:class:`~app.server.http.schemas.ChatCompletionRequest` for ``model=model_name``, so the router
balances across that name's deployments; an error also carries ``"result": null``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.server.http.errors import ApiError
from app.server.http.schemas import ChatCompletionRequest

__all__ = ["DEFAULT_MODEL", "InferenceRequest", "error_body", "to_chat_request", "to_result"]

DEFAULT_MODEL = "proxyllm"
"""OperateGPT's ``LLM_NAME`` default: the model of a request without ``model_name``."""


class InferenceRequest(BaseModel):
    """OperateGPT's ``LLMReq``: the prompt and the registered model name (other fields are refused).

    Example:
        >>> InferenceRequest(input="who are you?").model_name
        'proxyllm'
    """

    model_config = ConfigDict(extra="forbid")

    input: str = Field(min_length=1)
    """The user's prompt (``{USER_PROMPT}`` in a registered template)."""
    model_name: str = Field(DEFAULT_MODEL, min_length=1)
    """A model registered with ``/api/server/register`` (or any catalog name, or ``auto``)."""


def to_chat_request(body: InferenceRequest) -> ChatCompletionRequest:
    """The chat completion that answers ``body``."""
    return ChatCompletionRequest(model=body.model_name, messages=[{"role": "user", "content": body.input}])


def to_result(chat_answer: dict[str, Any]) -> dict[str, Any]:
    """OperateGPT's success body from a chat completion's JSON."""
    message = (chat_answer.get("choices") or [{}])[0].get("message") or {}
    return {"success": True, "msg": "execute succeed", "result": message.get("content") or ""}


def error_body(error: ApiError) -> dict[str, Any]:
    """OperateGPT's failure body; the message names the field where the gateway's error did.

    Example:
        >>> error_body(ApiError(422, "input: field required", param="input"))
        {'success': False, 'msg': 'input: field required', 'result': None}
    """
    return {"success": False, "msg": error.message, "result": None}
