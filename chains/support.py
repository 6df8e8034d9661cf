"""The customer-service bot: the shop's tools plus the knowledge base, behind moderation.

Each question first retrieves the policy passages it needs (the hybrid retriever over the shop
collection). Then one of two paths:

* **A tool-calling model** (``tool_model``, any LangChain chat model with ``bind_tools``): a tool
  loop — the model, moderated, sees the numbered policy sources and the tools; its tool calls run
  (moderation restores the PII placeholders it was shown in the arguments), their results go back as
  ``ToolMessage``\\ s, and it is called again, at most ``max_steps`` times; then it must answer
  (``tool_choice="none"``).
* **Any other model** (``tool_model=None``, e.g. the router over the local SmolLM2): the tool is
  picked by :func:`chains.support_rules.pick_tool` — unless moderation blocks the question, which
  then runs no tool — and run; its result is stated first in the answer, then the model (or, with
  ``answer_style="extractive"``, a quote) answers from the policy sources.

Output: the RAG chain's dict (``question``, ``sources``, ``answer``, ``citations``, ``unsupported``,
``reply``, ``refusal`` when nothing relevant was found) plus ``tool_calls``: ``[{"name", "args",
"result"}]``. ``sources`` are the policy passages, then one source per tool result (``source``
``tool:<name>``), so answers cite an order's status like a policy page and the citation check
knows both. ``stream`` yields the state first, then the answer's pieces, like the RAG chain.

Example:
    >>> bot = build_support_chain(retriever, moderated_router, ShopOrders(path))   # doctest: +SKIP
    >>> bot.invoke({"question": "Where is order 1042?"})["tool_calls"][0]["name"]  # doctest: +SKIP
    'order_status'
"""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import (
    Runnable,
    RunnableConfig,
    RunnableGenerator,
    RunnableLambda,
    RunnablePassthrough,
)
from langchain_core.runnables.config import patch_config
from langchain_core.tools import BaseTool

from chains.extractive import EXTRACTIVE_PROMPT, ExtractiveChatModel
from chains.moderation import Moderator, VaultStore, moderated
from chains.rag import (
    RAG_PROMPT,
    AnswerStyle,
    amessage_to_answer,
    documents_to_sources,
    dont_know_answer,
    extract_citations,
    format_sources,
    message_to_answer,
    no_sources_refusal,
    question_input,
    unsupported_sentences,
)
from chains.retrieval import DEFAULT_MIN_RELEVANCE, DEFAULT_MIN_RELEVANCE_ZH, HybridRetriever
from chains.shop_tools import POLICY_TOPICS, shop_tools
from chains.support_rules import pick_tool
from knowledge.lexical import cjk_share
from store.shop_orders import ShopOrders

__all__ = ["SUPPORT_PROMPT", "TOOL_SOURCE", "build_support_bot", "build_support_chain", "run_tool"]

TOOL_SOURCE = "tool:"
"""``source`` prefix of a source that holds a tool's result."""

SUPPORT_SYSTEM = """You are the customer-service assistant of Yardstore, an online garden shop.
- Look orders up with the tools; never guess an order's status. Start returns with start_return (it checks the \
return policy) and hand the conversation to a person with hand_off_to_person when the customer asks for one.
- Answer from the tool results and the numbered policy sources below; cite sources by number: [1].
- Answer in the language of the question, briefly.

Sources:
{context}"""

SUPPORT_PROMPT = ChatPromptTemplate.from_messages(
    [("system", SUPPORT_SYSTEM), MessagesPlaceholder("history", optional=True), ("human", "{question}")]
)
"""The tool-calling model's prompt; variables ``context``, ``question`` and optional ``history``."""


def run_tool(tools: dict[str, BaseTool], name: str, args: dict[str, Any]) -> str:
    """Run tool ``name`` with ``args``; an unknown tool or a bad argument is a result that says so."""
    tool = tools.get(name)
    if tool is None:
        return f"There is no tool '{name}'. The tools are: {', '.join(sorted(tools))}."
    return str(tool.invoke(args))


def _tool_sources(calls: list[dict[str, Any]], first: int) -> list[dict[str, Any]]:
    documents = [
        Document(
            call["result"],
            metadata={"source": TOOL_SOURCE + call["name"], "file": call["name"], "heading": _args_label(call)},
        )
        for call in calls
    ]
    sources = documents_to_sources(documents)
    for offset, source in enumerate(sources):
        source["n"] = first + offset
    return sources


def _args_label(call: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in call["args"].items() if key != "reason")[:80]


def _reply_record(message: BaseMessage) -> dict[str, Any]:
    return {
        "response_metadata": dict(message.response_metadata),
        "usage_metadata": dict(getattr(message, "usage_metadata", None) or {}),
    }


def _unsupported(state: dict[str, Any]) -> list[str]:
    return unsupported_sentences(state["answer"], state["sources"]) if state["sources"] else []


def _generative_values(state: dict[str, Any]) -> dict[str, Any]:
    values = {"question": state["question"], "context": format_sources(state["sources"])}
    if state.get("history"):
        values["history"] = state["history"]
    return values


def _extractive_values(state: dict[str, Any]) -> dict[str, Any]:
    """The extractive model quotes the policy only: the tool's result is already stated in the answer."""
    keep = ("n", "file", "heading", "text")
    policy = [{k: s.get(k) for k in keep} for s in state["sources"] if not s["source"].startswith(TOOL_SOURCE)]
    return {"question": state["question"], "sources_json": json.dumps({"sources": policy}, ensure_ascii=False)}


def build_support_chain(
    retriever: BaseRetriever,
    model: Runnable[Any, Any],
    shop: ShopOrders,
    *,
    tool_model: BaseChatModel | None = None,
    policy: str = "support",
    answer_style: AnswerStyle = "generative",
    max_steps: int = 4,
    moderator: Moderator | None = None,
) -> Runnable[str | dict[str, Any], dict[str, Any]]:
    """Assemble the support bot (see the module docstring for the two paths and the output).

    Args:
        retriever: finds the policy passages (give it a ``min_relevance``).
        model: what answers on the rules path: the router or a chat model (moderated here).
        shop: the orders and the returns and tickets the tools record.
        tool_model: a chat model that calls tools; ``None`` picks tools by rules.
        policy: the moderation policy around every model call.
        answer_style: ``"extractive"`` quotes the policy instead of calling ``model`` (rules path).
        max_steps: model calls with tools before the tool-calling model must answer.
        moderator: the lexicons and policies (default: ``config/moderation.yaml``).
    """
    moderator = moderator or Moderator.from_config()
    vaults = VaultStore()
    tools = {tool.name: tool for tool in shop_tools(shop)}
    answerer = moderated(
        ExtractiveChatModel() if answer_style == "extractive" else model, policy, moderator=moderator, vaults=vaults
    )
    to_prompt = (
        RunnableLambda(_extractive_values) | EXTRACTIVE_PROMPT
        if answer_style == "extractive"
        else RunnableLambda(_generative_values) | RAG_PROMPT
    )
    generate = (
        RunnablePassthrough.assign(message=to_prompt | answerer)
        | RunnableGenerator(message_to_answer, amessage_to_answer)
    ).with_config(run_name="generate")
    check = RunnablePassthrough.assign(unsupported=RunnableLambda(_unsupported)) | RunnablePassthrough.assign(
        citations=RunnableLambda(lambda state: extract_citations(state["answer"], len(state["sources"])))
    )

    def tool_loop(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        assert tool_model is not None
        configurable = dict(config.get("configurable") or {})
        given = configurable.get("conversation_id") or configurable.get("thread_id")
        conversation = str(given or f"support-{uuid.uuid4().hex}")
        run_config = patch_config(config, configurable={**configurable, "conversation_id": conversation})
        with_tools = moderated(tool_model.bind_tools(list(tools.values())), policy, moderator=moderator, vaults=vaults)
        must_answer = moderated(
            tool_model.bind_tools(list(tools.values()), tool_choice="none"), policy, moderator=moderator, vaults=vaults
        )
        messages = SUPPORT_PROMPT.format_messages(
            context=format_sources(state["sources"]) or "(none)",
            question=state["question"],
            history=state.get("history") or [],
        )
        calls: list[dict[str, Any]] = []
        try:
            for _ in range(max_steps):
                reply = with_tools.invoke(messages, run_config)
                if not isinstance(reply, AIMessage) or not reply.tool_calls:
                    break
                messages.append(reply)
                for call in reply.tool_calls:
                    args = call["args"]  # moderation restored the PII placeholders the model was shown
                    result = run_tool(tools, call["name"], args)
                    messages.append(ToolMessage(result, tool_call_id=call["id"], name=call["name"]))
                    calls.append({"name": call["name"], "args": args, "result": result})
            else:
                reply = must_answer.invoke(messages, run_config)
        finally:
            if given is None:
                vaults.drop(conversation)
        sources = state["sources"] + _tool_sources(calls, len(state["sources"]) + 1)
        return {**state, "sources": sources, "tool_calls": calls, "answer": reply.text, "reply": _reply_record(reply)}

    def _with_policy(
        sources: list[dict[str, Any]], tool: str, question: str, config: RunnableConfig
    ) -> list[dict[str, Any]]:
        """The question's sources plus the passages of the policy the tool rests on (numbered on)."""
        english, chinese = POLICY_TOPICS[tool]
        topic = chinese if cjk_share(question) >= 0.3 else english
        seen = {source["text"] for source in sources}
        extra = [doc for doc in retriever.invoke(topic, config) if doc.page_content not in seen]
        added = documents_to_sources(extra)
        for offset, source in enumerate(added):
            source["n"] = len(sources) + 1 + offset
        return sources + added

    def prepare(value: str | dict[str, Any], config: RunnableConfig) -> Runnable[Any, Any]:
        state = question_input(value)
        question = state["question"]
        state["sources"] = documents_to_sources(retriever.invoke(question, config))
        if tool_model is not None:
            done = tool_loop(state, config)
            return RunnableLambda(lambda _: done, name="tool_loop") | check
        pick = None if moderator.screen(question, policy, "input", find_pii=False).blocked else pick_tool(question)
        if pick is not None:
            state["sources"] = _with_policy(state["sources"], pick.name, question, config)
        calls = [] if pick is None else [{**pick.__dict__, "result": run_tool(tools, pick.name, pick.args)}]
        tool_sources = _tool_sources(calls, len(state["sources"]) + 1)
        policy_count = len(state["sources"])
        state.update(sources=state["sources"] + tool_sources, tool_calls=calls)
        if not state["sources"]:
            refusal = no_sources_refusal(retriever, question)
            gave_up = {**state, "answer": dont_know_answer(question), "refusal": refusal}
            return RunnableLambda(lambda _: gave_up, name="dont_know") | check
        lead = "".join(f"{source['text']} [{source['n']}]\n\n" for source in tool_sources)
        if lead and answer_style == "extractive" and not policy_count:
            stated = {**state, "answer": lead.strip()}
            return RunnableLambda(lambda _: stated, name="tool_result") | check
        prepared = {**state, "answer": lead} if lead else state
        return RunnableLambda(lambda _: prepared, name="prepared") | generate | check

    # prepare returns the runnable that answers; RunnableLambda runs (and streams) it. The output type is
    # named because it cannot be inferred from a function that returns a runnable (LangServe needs a schema).
    support = RunnableLambda(prepare, name="support").with_types(output_type=dict[str, Any])  # type: ignore[arg-type]
    return cast(Runnable[str | dict[str, Any], dict[str, Any]], support)


def build_support_bot(
    model: Runnable[Any, Any],
    collection: str,
    shop: ShopOrders,
    *,
    tool_model: BaseChatModel | None = None,
    answer_style: AnswerStyle = "generative",
    k: int = 4,
) -> Runnable[str | dict[str, Any], dict[str, Any]]:
    """:func:`build_support_chain` over ``collection`` with the retriever every assistant uses."""
    from knowledge import KnowledgeBase

    retriever = HybridRetriever(
        knowledge_base=KnowledgeBase(collection),
        k=k,
        min_relevance=DEFAULT_MIN_RELEVANCE,
        min_relevance_cjk=DEFAULT_MIN_RELEVANCE_ZH,
    )
    return build_support_chain(retriever, model, shop, tool_model=tool_model, answer_style=answer_style)
