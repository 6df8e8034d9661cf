"""The moderated chat runnable: screen the input, call the model, review the answer.

``moderated(model_runnable, policy)`` wraps any Runnable that takes chat messages and returns an
``AIMessage`` (a chat model, the router) and is itself such a Runnable, so it composes with LCEL
(``prompt | moderated(router)``), LangServe and the server:

1. **input** — the user's last message is checked against the lexicon; a ``block`` category
   (or an ``UNSAFE`` judge verdict, if the policy asks the judge) stops here: the model is not
   called and the answer is a refusal naming the category (or ``ModerationBlocked`` is raised,
   per the policy's ``on_block``). PII in every message is replaced with ``<TYPE_n>``
   placeholders unless the target is trusted (``metadata["modelyard"]["trusted"]``).
2. **model** — called with the masked messages, with the caller's config.
3. **output** — the answer is reviewed (streamed answers with a hold-back window, see
   :mod:`.review`); a blocked answer is replaced by a safe notice; placeholders are restored in
   what the user sees.

Every answer carries ``response_metadata["moderation"]`` and ``response_metadata["provenance"]``.
Per-call settings travel in ``config["configurable"]``: ``conversation_id`` (or ``thread_id``)
keeps placeholders consistent across turns; ``moderation_policy`` picks another policy.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> chat = moderated(FakeListChatModel(responses=["Sure, <EMAIL_1> noted."]))
    >>> answer = chat.invoke([("human", "my mail is ann@example.com")])
    >>> answer.content, answer.response_metadata["moderation"]["pii"]
    ('Sure, ann@example.com noted.', [{'type': 'EMAIL', 'placeholder': '<EMAIL_1>'}])
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolCall
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import run_in_executor

from chains.moderation.errors import ModerationBlocked
from chains.moderation.input_stage import InputScreening, last_user_text, screen_messages
from chains.moderation.judge import ModelJudge
from chains.moderation.messages import ChatInput, message_text, rebuild_input, split_input, to_chunk, with_text
from chains.moderation.provenance import catalog_identity, moderation_notice, provenance
from chains.moderation.review import AnswerReviewer
from chains.moderation.screen import Moderator
from chains.moderation.tool_calls import as_chunk_parts, collect_tool_calls, review_tool_calls, without_tool_calls
from chains.moderation.vault import PiiVault, VaultStore
from models.adapters.openai_tools import OpenAIToolsMixin

__all__ = ["ModeratedChat", "moderated"]


@dataclass
class _Turn:
    """One request on its way through: the policy, the vault and the screened input."""

    policy: str
    vault: PiiVault
    trusted: bool
    masked: bool
    screening: InputScreening
    model_input: Any
    judge: list[dict[str, Any]] = field(default_factory=list)
    tool_flags: list[dict[str, str]] = field(default_factory=list)


class ModeratedChat(OpenAIToolsMixin, Runnable[ChatInput, BaseMessage]):
    """Moderation around a chat runnable. Build it with :func:`moderated`.

    ``bind_tools``, ``with_structured_output`` and ``bind`` bind the *inner* model (the router
    becomes its chat-model facade), so moderation stays outermost: tool results are screened on
    the way in, tool-call arguments reviewed and their placeholders restored on the way out, and
    structured output is parsed from the reviewed text.

    Args:
        model: a Runnable from chat messages to an ``AIMessage`` (or a stream of chunks).
        policy: the policy's name in ``config/moderation.yaml``.
        moderator: lexicon + policies (default: loaded from the config folder).
        judge: a :class:`ModelJudge` or a chat model to make one; used where the policy asks.
        trusted: whether the model may see raw PII; default: its ``metadata["modelyard"]["trusted"]``,
            and untrusted when that is absent.
        vaults: where conversations' placeholder vaults live (default: a new in-memory store).
    """

    def __init__(
        self,
        model: Runnable,
        policy: str = "default",
        *,
        moderator: Moderator | None = None,
        judge: ModelJudge | Runnable | None = None,
        trusted: bool | None = None,
        vaults: VaultStore | None = None,
    ):
        self.model = model
        self.moderator = moderator or Moderator.from_config()
        self.moderator.policy(policy)  # an unknown policy fails here, not on the first request
        self.policy = policy
        self.judge = judge if judge is None or isinstance(judge, ModelJudge) else ModelJudge(judge)
        self.trusted = trusted if trusted is not None else catalog_identity(model).get("trusted") is True
        self.vaults = vaults or VaultStore()
        self.name = f"Moderated[{policy}]"

    def bind(self, **kwargs: Any) -> ModeratedChat:
        """Moderation around the inner model bound with ``kwargs`` (tools, response_format, ...)."""
        inner = self.model.as_chat_model() if hasattr(self.model, "as_chat_model") else self.model
        return ModeratedChat(
            inner.bind(**kwargs),
            self.policy,
            moderator=self.moderator,
            judge=self.judge,
            trusted=self.trusted,
            vaults=self.vaults,
        )

    def _bound(self, **kwargs: Any) -> Any:
        return self.bind(**kwargs)

    # ---- Runnable interface -----------------------------------------------------------------
    def invoke(self, input: ChatInput, config: RunnableConfig | None = None, **kwargs: Any) -> BaseMessage:
        # langchain-core types ``func`` without the (input, config) form it accepts at run time.
        return self._call_with_config(self._invoke, input, config, run_type="chain")  # type: ignore[arg-type]

    async def ainvoke(self, input: ChatInput, config: RunnableConfig | None = None, **kwargs: Any) -> BaseMessage:
        return await self._acall_with_config(self._ainvoke, input, config, run_type="chain")  # type: ignore[arg-type]

    def stream(self, input: ChatInput, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[AIMessageChunk]:
        yield from self.transform(iter([input]), config, **kwargs)

    def transform(
        self, input: Iterator[ChatInput], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[AIMessageChunk]:
        # The transformer yields AIMessageChunks; langchain-core types the result as the runnable's Output.
        chunks = self._transform_stream_with_config(input, self._transform, config, run_type="chain")  # type: ignore[arg-type]
        yield from cast(Iterator[AIMessageChunk], chunks)

    async def astream(
        self, input: ChatInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[AIMessageChunk]:
        async def once() -> AsyncIterator[ChatInput]:
            yield input

        async for chunk in self.atransform(once(), config, **kwargs):
            yield chunk

    async def atransform(
        self, input: AsyncIterator[ChatInput], config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[AIMessageChunk]:
        chunks = self._atransform_stream_with_config(input, self._atransform, config, run_type="chain")  # type: ignore[arg-type]
        async for chunk in cast(AsyncIterator[AIMessageChunk], chunks):
            yield chunk

    # ---- the three stages, sync ------------------------------------------------------------------
    def _invoke(self, value: ChatInput, config: RunnableConfig) -> BaseMessage:
        turn = self._begin(value, config)
        if judge := self._judge_for(turn, "input"):
            self._judge_input(turn, judge.judge(last_user_text(turn.screening.messages), "user", config))
        if turn.screening.blocked_categories:
            return self._refuse(turn)
        answer = self.model.invoke(turn.model_input, config)
        reviewer = self._reviewer(turn, hold_all=False)
        shown = reviewer.feed(message_text(answer)) + reviewer.finish()
        if (judge := self._judge_for(turn, "output")) and not reviewer.blocked:
            self._judge_output(turn, reviewer, judge.judge(reviewer.text, "assistant", config))
        return self._answer(turn, answer, reviewer, shown)

    def _transform(self, inputs: Iterator[ChatInput], config: RunnableConfig) -> Iterator[AIMessageChunk]:
        turn = self._begin(_last(inputs), config)
        if judge := self._judge_for(turn, "input"):
            self._judge_input(turn, judge.judge(last_user_text(turn.screening.messages), "user", config))
        if turn.screening.blocked_categories:
            yield _as_last_chunk(self._refuse(turn))
            return
        reviewer = self._reviewer(turn, hold_all=self._judge_for(turn, "output") is not None)
        metadata: dict[str, Any] = {}
        held: list[AIMessageChunk] = []  # tool-call pieces, released whole and reviewed at the end
        stream = self.model.stream(turn.model_input, config)
        try:
            for piece in stream:
                metadata.update(getattr(piece, "response_metadata", None) or {})
                shown = reviewer.feed(message_text(piece))
                if reviewer.blocked:
                    break
                yield self._hold_tool_calls(to_chunk(piece, shown), held)
        finally:
            getattr(stream, "close", lambda: None)()
        if (judge := self._judge_for(turn, "output")) and not reviewer.blocked:
            self._judge_output(turn, reviewer, judge.judge(reviewer.text, "assistant", config))
        yield self._last_chunk(turn, reviewer, metadata, held)

    # ---- the three stages, async -----------------------------------------------------------------
    async def _ainvoke(self, value: ChatInput, config: RunnableConfig) -> BaseMessage:
        turn = await self._abegin(value, config)
        if judge := self._judge_for(turn, "input"):
            self._judge_input(turn, await judge.ajudge(last_user_text(turn.screening.messages), "user", config))
        if turn.screening.blocked_categories:
            return self._refuse(turn)
        answer = await self.model.ainvoke(turn.model_input, config)
        reviewer = self._reviewer(turn, hold_all=False)
        shown = reviewer.feed(message_text(answer)) + reviewer.finish()
        if (judge := self._judge_for(turn, "output")) and not reviewer.blocked:
            self._judge_output(turn, reviewer, await judge.ajudge(reviewer.text, "assistant", config))
        return self._answer(turn, answer, reviewer, shown)

    async def _atransform(
        self, inputs: AsyncIterator[ChatInput], config: RunnableConfig
    ) -> AsyncIterator[AIMessageChunk]:
        value = None
        async for value in inputs:  # noqa: B007 - the last input is the one to use
            pass
        turn = await self._abegin(value, config)
        if judge := self._judge_for(turn, "input"):
            self._judge_input(turn, await judge.ajudge(last_user_text(turn.screening.messages), "user", config))
        if turn.screening.blocked_categories:
            yield _as_last_chunk(self._refuse(turn))
            return
        reviewer = self._reviewer(turn, hold_all=self._judge_for(turn, "output") is not None)
        metadata: dict[str, Any] = {}
        held: list[AIMessageChunk] = []  # tool-call pieces, released whole and reviewed at the end
        stream = self.model.astream(turn.model_input, config)
        try:
            async for piece in stream:
                metadata.update(getattr(piece, "response_metadata", None) or {})
                shown = reviewer.feed(message_text(piece))
                if reviewer.blocked:
                    break
                yield self._hold_tool_calls(to_chunk(piece, shown), held)
        finally:
            aclose = getattr(stream, "aclose", None)  # an async generator; a plain AsyncIterator has none
            if aclose is not None:
                await aclose()
        if (judge := self._judge_for(turn, "output")) and not reviewer.blocked:
            self._judge_output(turn, reviewer, await judge.ajudge(reviewer.text, "assistant", config))
        yield self._last_chunk(turn, reviewer, metadata, held)

    # ---- shared steps ---------------------------------------------------------------------------
    async def _abegin(self, value: ChatInput, config: RunnableConfig) -> _Turn:
        """:meth:`_begin` in a worker thread: screening is CPU work (the harm classifier; spaCy's name
        detector for policies with ``pii.names``, ~100 ms per 2 KB and seconds on first use) that must
        not stall an event loop serving other requests."""
        return await run_in_executor(config, self._begin, value, config)

    def _begin(self, value: ChatInput, config: RunnableConfig) -> _Turn:
        configurable = (config or {}).get("configurable") or {}
        policy = configurable.get("moderation_policy") or self.policy
        rules = self.moderator.policy(policy)
        messages, original = split_input(value)
        mask = rules.pii.mask and (not self.trusted or rules.pii.mask_for_trusted)
        conversation = configurable.get("conversation_id") or configurable.get("thread_id")
        vault = self.vaults.get(str(conversation)) if conversation else PiiVault()
        screening = screen_messages(self.moderator, policy, messages, vault, mask)
        return _Turn(policy, vault, self.trusted, mask, screening, rebuild_input(screening.messages, original))

    def _judge_for(self, turn: _Turn, stage: str) -> ModelJudge | None:
        """The judge, when the turn's policy asks it at ``stage`` (``input`` or ``output``)."""
        if self.judge is not None and getattr(self.moderator.policy(turn.policy).judge, stage):
            return self.judge
        return None

    def _judge_input(self, turn: _Turn, verdict: Any) -> None:
        turn.judge.append(verdict.record("input"))
        if verdict.unsafe and verdict.category not in turn.screening.blocked_categories:
            turn.screening.blocked_categories.append(verdict.category)
            turn.screening.flags.append({"stage": "input", "category": verdict.category, "action": "block", "term": ""})

    def _judge_output(self, turn: _Turn, reviewer: AnswerReviewer, verdict: Any) -> None:
        turn.judge.append(verdict.record("output"))
        if verdict.unsafe:
            reviewer.block(verdict.category)

    def _reviewer(self, turn: _Turn, hold_all: bool) -> AnswerReviewer:
        return AnswerReviewer(self.moderator, turn.policy, turn.vault, hold_all=hold_all)

    def _refuse(self, turn: _Turn) -> AIMessage:
        rules = self.moderator.policy(turn.policy)
        categories = turn.screening.blocked_categories
        text = rules.refusal_text(turn.policy, categories)
        if rules.on_block == "raise":
            raise ModerationBlocked(text, categories)
        return AIMessage(
            content=text,
            response_metadata={
                "moderation": self._record(turn, None, "input"),
                "provenance": moderation_notice(turn.policy),
            },
        )

    def _answer(self, turn: _Turn, answer: Any, reviewer: AnswerReviewer, shown: str) -> BaseMessage:
        calls = self._review_tool_calls(turn, reviewer, list(getattr(answer, "tool_calls", None) or []))
        content: str | list[Any] = reviewer.refusal() if reviewer.blocked else shown
        if isinstance(answer, BaseMessage) and not reviewer.blocked:
            content = with_text(answer.content, shown)  # keeps an answer's images
        extra = {
            "moderation": self._record(turn, reviewer, "output" if reviewer.blocked else None),
            "provenance": provenance(answer, self.model),
        }
        if isinstance(answer, BaseMessage):
            update: dict[str, Any] = {"content": content, "response_metadata": {**answer.response_metadata, **extra}}
            if isinstance(answer, AIMessage) and answer.tool_calls:
                update.update(tool_calls=calls, additional_kwargs=_without_raw_calls(answer.additional_kwargs))
            return answer.model_copy(update=update)
        return AIMessage(content=content, response_metadata=extra)

    def _review_tool_calls(self, turn: _Turn, reviewer: AnswerReviewer, calls: list[ToolCall]) -> list[ToolCall]:
        """The answer's tool calls with placeholders restored; none when the review blocks one."""
        if not calls:
            return []
        review = review_tool_calls(self.moderator, turn.policy, turn.vault, calls)
        turn.tool_flags += review.flags
        for category in review.blocked_categories:
            reviewer.block(category)
        return [] if reviewer.blocked else review.calls

    @staticmethod
    def _hold_tool_calls(chunk: AIMessageChunk, held: list[AIMessageChunk]) -> AIMessageChunk:
        if not chunk.tool_call_chunks:
            return chunk
        held.append(chunk)
        return without_tool_calls(chunk)

    def _last_chunk(
        self, turn: _Turn, reviewer: AnswerReviewer, metadata: dict[str, Any], held: list[AIMessageChunk]
    ) -> AIMessageChunk:
        calls = self._review_tool_calls(turn, reviewer, collect_tool_calls(held))
        tail = reviewer.finish()
        if reviewer.blocked:
            tail = ("\n\n" if reviewer.text else "") + reviewer.refusal()
        extra = {
            "moderation": self._record(turn, reviewer, "output" if reviewer.blocked else None),
            "provenance": provenance(AIMessage("", response_metadata=metadata), self.model),
        }
        return AIMessageChunk(
            content=tail, response_metadata=extra, tool_call_chunks=as_chunk_parts(calls), chunk_position="last"
        )

    def _record(self, turn: _Turn, reviewer: AnswerReviewer | None, blocked_at: str | None) -> dict[str, Any]:
        flags = turn.screening.flags + (reviewer.flags if reviewer else []) + turn.tool_flags
        return {
            "policy": turn.policy,
            "blocked": blocked_at is not None,
            "stage": blocked_at,
            "categories": sorted({flag["category"] for flag in flags}),
            "flags": flags,
            "pii": turn.screening.pii,
            "pii_masked": turn.masked,
            "trusted_target": turn.trusted,
            "reviewed": reviewer is not None,
            "judge": turn.judge,
        }


def moderated(
    model_runnable: Runnable,
    policy: str = "default",
    *,
    moderator: Moderator | None = None,
    judge: ModelJudge | Runnable | None = None,
    trusted: bool | None = None,
    vaults: VaultStore | None = None,
) -> ModeratedChat:
    """Wrap ``model_runnable`` (messages → AIMessage) in moderation under ``policy``.

    See :class:`ModeratedChat` for the arguments and the module docstring for what happens.
    """
    return ModeratedChat(model_runnable, policy, moderator=moderator, judge=judge, trusted=trusted, vaults=vaults)


def _last(inputs: Iterator[ChatInput]) -> ChatInput:
    value = None
    for value in inputs:  # noqa: B007 - the last input is the one to use
        pass
    return value


def _without_raw_calls(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``additional_kwargs`` without the provider's raw tool calls (``tool_calls`` holds the reviewed ones)."""
    return {key: value for key, value in kwargs.items() if key != "tool_calls"}


def _as_last_chunk(message: AIMessage) -> AIMessageChunk:
    return AIMessageChunk(content=message.content, response_metadata=message.response_metadata, chunk_position="last")
