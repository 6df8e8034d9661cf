"""LangServe routes: the customer-service bot at ``/support`` and RAG at ``/rag``.

Both answer from one knowledge-base collection (``shop`` by default) with the router as the
model, moderated (policy ``support`` and ``default``). ``/support`` is the customer-service bot
(:mod:`chains.support`): it also looks orders up, starts returns and hands off to a person over
the sample shop's orders (``data/shop_orders.sqlite``), and its answers list ``tool_calls``; it
quotes the policy when no available model writes grounded answers (the catalog's ``answer_style``).
Each gets LangServe's ``invoke``, ``stream`` and ``playground`` endpoints — not ``batch`` (any
number of runs for one admitted request) nor ``stream_log`` / ``stream_events`` (they show the
inner model's tokens before output review). Every request is charged to its key and logged
(:mod:`app.server.gateway.chain_accounting`).
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request
from langchain_core.runnables import Runnable, RunnableLambda
from langserve import add_routes
from pydantic import BaseModel, Field

from app.server.gateway.chain_accounting import ChainAccounting
from app.server.gateway.state import gateway
from app.server.gateway.warmup import Once
from app.server.http.auth import bearer, require_chain_key
from app.server.http.errors import ApiError
from app.server.http.timing import arrived
from chains.assistant import build_assistant
from chains.rag import AnswerStyle, answer_style_for
from chains.support import build_support_bot
from core.settings import data_dir
from routers.router import RouterRunnable
from store.shop_orders import ShopOrders

__all__ = ["SERVED_ENDPOINTS", "QuestionInput", "add_chain_routes"]

Endpoint = Literal["invoke", "stream", "playground", "input_schema", "output_schema", "config_schema"]
SERVED_ENDPOINTS: tuple[Endpoint, ...] = (
    "invoke",
    "stream",
    "playground",
    "input_schema",
    "output_schema",
    "config_schema",
)
"""LangServe endpoints the chains get (``batch``, ``stream_log`` and ``stream_events`` are off)."""


class QuestionInput(BaseModel):
    """What ``/support`` and ``/rag`` take."""

    question: str = Field(min_length=1)
    """The customer's question."""
    history: list[Any] = []
    """Earlier turns as chat messages (``[("human", "..."), ("ai", "...")]`` or message dicts)."""


def add_chain_routes(app: FastAPI, router: RouterRunnable, collection: str, knowledge: Once | None = None) -> None:
    """Mount ``/support`` and ``/rag`` on ``app``; ``knowledge`` (ingest the sample collection
    once) runs before the first call, and its failure is a 503 naming the cause."""

    async def knowledge_ready() -> None:
        if knowledge is None:
            return
        await knowledge.arun()
        if knowledge.error is not None:
            raise ApiError(
                503,
                f"the knowledge base '{collection}' cannot be opened ({type(knowledge.error).__name__}: "
                f"{str(knowledge.error)[:200]}); the other routes still serve. Rebuild it with "
                f"`python -m knowledge delete {collection}` and restart (or move the data folder's chroma/ away)",
                code="knowledge_unavailable",
            )

    # built on first use (after the knowledge base opened): a broken Chroma folder cannot stop the gateway
    built: dict[str, Runnable[Any, Any]] = {}

    @functools.cache
    def shop() -> ShopOrders:
        return ShopOrders(data_dir() / "shop_orders.sqlite")

    def chain_for(policy: str) -> Runnable[Any, Any]:
        key = policy
        available = [entry.spec for entry in router.registry.available()]
        calls_tools = any(spec.can("tools") for spec in available)
        if policy == "support":  # quotes the policy while no available model writes grounded answers
            key = f"support/{answer_style_for(None, available)}/{'tools' if calls_tools else 'rules'}"
        if key not in built:
            if policy == "support":
                style: AnswerStyle = "generative" if "/generative/" in key else "extractive"
                # a tool-calling model available: the router's chat model runs the tool loop (it picks only
                # tool-capable models); otherwise the tools are picked by rules
                tool_model = router.as_chat_model() if calls_tools else None
                built[key] = build_support_bot(router, collection, shop(), tool_model=tool_model, answer_style=style)
            else:
                built[key] = build_assistant(router, policy=policy, collection=collection)
        return built[key]

    def lazy(policy: str) -> Runnable[Any, Any]:
        return RunnableLambda(lambda value: chain_for(policy), name=f"{policy}_assistant")

    support = lazy("support")
    rag = lazy("default")  # moderated like every surface

    def accounting(path: str) -> Any:
        async def modify(config: dict[str, Any], request: Request) -> dict[str, Any]:
            gw = gateway(request)
            token = bearer(request)
            key = gw.keys.authenticate(token) if token else None
            endpoint = f"{path.strip('/')}_{request.url.path.rsplit('/', 1)[-1]}"  # support_invoke, rag_stream
            call = gw.open_call(endpoint, "auto", key, started=arrived(request))
            return {**config, "callbacks": [*(config.get("callbacks") or []), ChainAccounting(call)]}

        return modify

    for runnable, path in ((support, "/support"), (rag, "/rag")):
        # the chains' inferred schemas are loose; name the types so LangServe validates both ways
        add_routes(
            app,
            runnable.with_types(input_type=QuestionInput, output_type=dict[str, Any]),
            path=path,
            # only endpoints whose output passed output review, one input per admitted request:
            # stream_log / stream_events would show the inner model's raw tokens, batch any number of runs
            enabled_endpoints=SERVED_ENDPOINTS,
            per_req_config_modifier=accounting(path),
            dependencies=[Depends(require_chain_key), Depends(knowledge_ready)],  # the same API keys as /v1
        )
