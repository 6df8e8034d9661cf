"""Accounting for the LangServe chains: every model call made under a key is charged and logged.

LangServe runs ``/support`` and ``/rag`` itself, so the gateway cannot wrap their dispatch the
way it wraps ``/v1/chat/completions``. Instead each request's config gets a
:class:`ChainAccounting` callback (LangServe's ``per_req_config_modifier``): it adds up the tokens
and cost of every chat-model call inside the chain run (``on_llm_end`` carries the catalog
adapter's ``usage_metadata`` and ``cost_usd``), and settles the request's one
:class:`~app.server.gateway.lifecycle.Call` when the root run ends — or fails, or is cancelled
because the client went away.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.outputs import ChatGeneration, LLMResult

from app.server.gateway.lifecycle import Call

__all__ = ["ChainAccounting"]


class ChainAccounting(AsyncCallbackHandler):
    """Sum every model call of one chain run into ``call``; settle it when the root run ends."""

    def __init__(self, call: Call):
        self.call = call
        self._root: UUID | None = None

    async def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        if parent_run_id is None and self._root is None:
            self._root = run_id

    async def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        record = self.call.record
        tokens_in, tokens_out, cost = record.input_tokens, record.output_tokens, record.cost_usd
        for generations in response.generations:
            for generation in generations:
                if not isinstance(generation, ChatGeneration):
                    continue
                message = generation.message
                usage = getattr(message, "usage_metadata", None) or {}
                tokens_in += int(usage.get("input_tokens", 0))
                tokens_out += int(usage.get("output_tokens", 0))
                meta = message.response_metadata
                cost += float(meta.get("cost_usd", 0.0) or 0.0)
                if meta.get("modelyard_model"):
                    self.call.answered({"model": meta["modelyard_model"], "deployment": meta.get("deployment", "")})
        self.call.usage(tokens_in, tokens_out, cost)

    async def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if run_id == self._root:
            self.call.settle()

    async def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        if run_id == self._root:
            self.call.failed(502 if "Provider" in type(error).__name__ else 500, error)
            self.call.settle()
