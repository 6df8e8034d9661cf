"""OpenAI-style tool calling and structured output for any LangChain chat model that takes
OpenAI-shaped call options (``tools``, ``tool_choice``, ``parallel_tool_calls``, ``response_format``).

:class:`OpenAIToolsMixin` gives a chat model LangChain's ``bind_tools`` and
``with_structured_output`` (``json_schema``, ``function_calling``, ``json_mode``, ``include_raw``)
by binding those options — LangChain's own converters and output parsers do the rest. The router's
chat-model facade and the Hugging Face endpoint adapter use it; ``ChatOpenAI`` has its own.

Example:
    >>> from routers.chat_model import RouterChatModel
    >>> issubclass(RouterChatModel, OpenAIToolsMixin)
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, Literal, cast

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import JsonOutputKeyToolsParser, JsonOutputParser, PydanticToolsParser
from langchain_core.runnables import Runnable, RunnableLambda, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel

__all__ = ["OpenAIToolsMixin"]


class OpenAIToolsMixin:
    """``bind_tools`` and ``with_structured_output`` by binding OpenAI-shaped call options."""

    def _bound(self, **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        """``self.bind(**kwargs)`` on the chat model this mixin is part of."""
        runnable: Runnable[LanguageModelInput, AIMessage] = cast(Any, self).bind(**kwargs)
        return runnable

    # ---- tools and structured output ---------------------------------------------------------------
    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        parallel_tool_calls: bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer ``tools`` to the model (OpenAI's function-tool format, converted by LangChain).

        ``tool_choice``: ``"auto"``, ``"none"``, ``"required"`` / ``"any"`` / ``True`` (some tool), or a
        tool's name (that tool).
        """
        formatted = [convert_to_openai_tool(tool, strict=strict) for tool in tools]
        bound: dict[str, Any] = {"tools": formatted, **kwargs}
        if tool_choice is not None and tool_choice is not False:
            bound["tool_choice"] = _tool_choice(tool_choice, formatted)
        if parallel_tool_calls is not None:
            bound["parallel_tool_calls"] = parallel_tool_calls
        return self._bound(**bound)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["function_calling", "json_mode", "json_schema"] = "json_schema",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Answers parsed into ``schema`` (a pydantic class, a TypedDict or a JSON schema dict).

        ``json_schema`` asks the model for JSON that fits the schema (``response_format``);
        ``function_calling`` forces a tool call whose arguments are the answer; ``json_mode`` asks for
        any JSON object (describe the fields in the prompt). With ``include_raw`` the result is
        ``{"raw": AIMessage, "parsed": ..., "parsing_error": ...}`` and a parsing failure is not raised.
        """
        if kwargs:
            raise ValueError(f"with_structured_output does not take {', '.join(sorted(kwargs))}")
        if schema is None and method != "json_mode":
            raise ValueError(f"with_structured_output(method='{method}') needs a schema")
        pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        marker = {"kwargs": {"method": method}, "schema": schema}
        parser: Runnable[Any, Any]
        if method == "function_calling":
            assert schema is not None
            tool_name = convert_to_openai_tool(schema)["function"]["name"]
            model = self.bind_tools([schema], tool_choice=tool_name, strict=strict, ls_structured_output_format=marker)
            parser = (
                PydanticToolsParser(tools=[schema], first_tool_only=True)
                if pydantic
                else JsonOutputKeyToolsParser(key_name=tool_name, first_tool_only=True)
            )
        elif method == "json_schema":
            assert schema is not None
            json_schema = convert_to_json_schema(schema)
            name = str(json_schema.get("title") or "answer")
            format_: dict[str, Any] = {"name": name, "schema": json_schema}
            if strict is not None:
                format_["strict"] = strict
            response_format = {"type": "json_schema", "json_schema": format_}
            model = self._bound(response_format=response_format, ls_structured_output_format=marker)
            parser = _json_parser(schema if pydantic and isinstance(schema, type) else None)
        elif method == "json_mode":
            model = self._bound(response_format={"type": "json_object"}, ls_structured_output_format=marker)
            parser = _json_parser(schema if pydantic and isinstance(schema, type) else None)
        else:
            raise ValueError(f"unknown method '{method}'; use json_schema, function_calling or json_mode")
        if not include_raw:
            return model | parser
        parsed = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
        failed = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=model) | parsed.with_fallbacks([failed], exception_key="parsing_error")


def _tool_choice(choice: dict[str, Any] | str | bool, tools: list[dict[str, Any]]) -> dict[str, Any] | str:
    """LangChain's ``tool_choice`` spellings in OpenAI's form (a tool's name forces that tool)."""
    if isinstance(choice, dict):
        return choice
    if choice is True or choice == "any":
        return "required"
    if choice in ("auto", "none", "required"):
        return str(choice)
    names = [tool["function"]["name"] for tool in tools]
    if choice not in names:
        raise ValueError(f"tool_choice '{choice}' is not one of the bound tools ({', '.join(names)})")
    return {"type": "function", "function": {"name": choice}}


def _json_parser(schema: type | None) -> Runnable[Any, Any]:
    """JSON text → dict, then into the pydantic ``schema`` when one is given."""
    parse_json = JsonOutputParser()
    if schema is None:
        return parse_json
    model_class: Any = schema
    return parse_json | RunnableLambda(model_class.model_validate)
