"""``http_template`` provider: any JSON-over-HTTP model API described by templates.

The registered template (OperateGPT's ``req_url_template`` / ``body`` / ``response_extract``)
is never mutated: every call fills a deep copy. Placeholders:

* ``{USER_PROMPT}`` — the last human message (OperateGPT's only one);
* ``{MESSAGES}`` — the whole conversation as OpenAI-shaped messages (``[{"role", "content"}, ...]``):
  system prompts (a RAG chain's context included), earlier turns and the last question;
* ``{SYSTEM_PROMPT}`` — the system messages' text; ``{HISTORY}`` — the turns before the last human
  message, one ``User: …`` / ``Assistant: …`` line each;
* ``{MODEL_TEMPERATURE}``, ``{MODEL_NAME}``, ``{API_KEY}``.

A placeholder that is a whole string value is replaced by the typed value (a float for the
temperature, a JSON list for ``{MESSAGES}``), otherwise it is substituted as text (a list as JSON).
In the URL every value is percent-encoded, so a prompt with ``/``, ``?``, ``&`` or spaces arrives
as one value. The answer is found by a path like ``data.items[].attributes.answer`` (``[]`` takes
the first list element, ``[2]`` a given one); a path that does not match raises a
ProviderResponseError naming the path and the keys that were there.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, convert_to_openai_messages
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from core.errors import ProviderResponseError
from models.adapters.base import CatalogChatMixin, identity
from models.spec import Deployment, ModelSpec
from models.tokens import count_tokens

__all__ = ["ChatHttpTemplate", "build_http_template", "extract_path", "fill_template", "fill_url"]

_PLACEHOLDER = re.compile(r"\{(USER_PROMPT|MESSAGES|SYSTEM_PROMPT|HISTORY|MODEL_TEMPERATURE|MODEL_NAME|API_KEY)\}")
_SPEAKERS = {"human": "User", "ai": "Assistant", "tool": "Tool"}


def _as_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else str(value)


def _substitute(text: str, values: dict[str, Any], encode: Callable[[str], str]) -> str:
    return _PLACEHOLDER.sub(
        lambda m: encode(_as_text(values[m.group(1)])) if m.group(1) in values else m.group(0), text
    )


def fill_template(template: Any, values: dict[str, Any]) -> Any:
    """A filled deep copy of ``template``; the template itself is left untouched.

    Example:
        >>> values = {"USER_PROMPT": "hi", "MODEL_TEMPERATURE": 0.5}
        >>> fill_template({"q": "{USER_PROMPT}", "t": "{MODEL_TEMPERATURE}"}, values)
        {'q': 'hi', 't': 0.5}
    """
    if isinstance(template, dict):
        return {key: fill_template(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [fill_template(value, values) for value in template]
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return copy.deepcopy(values.get(whole.group(1), template))
        return _substitute(template, values, str)
    return copy.deepcopy(template)


def fill_url(template: str, values: dict[str, Any]) -> str:
    """``template`` with every placeholder replaced by its percent-encoded value.

    Example:
        >>> fill_url("http://h/ask?q={USER_PROMPT}", {"USER_PROMPT": "a/b?c&d é"})
        'http://h/ask?q=a%2Fb%3Fc%26d%20%C3%A9'
    """
    return _substitute(template, values, lambda text: quote(text, safe=""))


def extract_path(data: Any, path: str) -> Any:
    """Follow ``a.b[].c`` / ``a.b[0].c`` through parsed JSON; clear error when it does not match."""
    current = data
    walked = ""
    for step in path.split("."):
        match = re.fullmatch(r"([^\[\]]*)((?:\[\d*\])*)", step)
        if match is None:
            raise ProviderResponseError(f"response_extract path '{path}' has an invalid step '{step}'")
        key, indexes = match.groups()
        if key:
            if not isinstance(current, dict) or key not in current:
                present = sorted(current) if isinstance(current, dict) else type(current).__name__
                raise ProviderResponseError(
                    f"response_extract path '{path}' does not match the response: no key '{key}' at "
                    f"'{walked or '<root>'}' (keys present: {present})"
                )
            current = current[key]
            walked = f"{walked}.{key}" if walked else key
        for index in re.findall(r"\[(\d*)\]", indexes):
            position = int(index) if index else 0
            if not isinstance(current, list) or position >= len(current):
                size = len(current) if isinstance(current, list) else type(current).__name__
                raise ProviderResponseError(
                    f"response_extract path '{path}' does not match the response: '{walked}' has no "
                    f"element [{position}] (found {size})"
                )
            current = current[position]
            walked += f"[{position}]"
    return current


class ChatHttpTemplate(CatalogChatMixin, BaseChatModel):
    """A chat model over a templated JSON HTTP API (see the module docstring for the placeholders).

    Example:
        >>> model = ChatHttpTemplate(
        ...     url_template="http://127.0.0.1:9100/ask/{MODEL_NAME}",
        ...     body_template={"messages": "{MESSAGES}", "question": "{USER_PROMPT}"},
        ...     response_extract="data.answer",
        ... )
        >>> model.invoke("hi").content  # doctest: +SKIP
    """

    url_template: str
    body_template: dict[str, Any]
    response_extract: str
    headers: dict[str, str] = Field(default_factory=dict)
    model_name: str = ""
    api_key: str = ""
    temperature: float | None = None
    timeout: float = 60.0

    @property
    def _llm_type(self) -> str:
        return "http_template"

    def _values(self, messages: list[BaseMessage]) -> dict[str, Any]:
        last_user = max((i for i, m in enumerate(messages) if m.type == "human"), default=len(messages) - 1)
        prompt = messages[last_user].text if messages else ""
        earlier = [m for m in messages[:last_user] if m.type in _SPEAKERS]
        return {
            "USER_PROMPT": prompt,
            "MESSAGES": convert_to_openai_messages(messages),
            "SYSTEM_PROMPT": "\n\n".join(m.text for m in messages if m.type == "system"),
            "HISTORY": "\n".join(f"{_SPEAKERS[m.type]}: {m.text}" for m in earlier),
            "MODEL_TEMPERATURE": self.temperature,
            "MODEL_NAME": self.model_name,
            "API_KEY": self.api_key,
        }

    def _request(self, messages: list[BaseMessage]) -> tuple[str, dict[str, Any], dict[str, str], str]:
        values = self._values(messages)
        sent = "\n".join(m.text for m in messages)  # what the usage estimate counts as input
        return (
            fill_url(self.url_template, values),
            fill_template(self.body_template, values),
            fill_template(self.headers, values),
            sent,
        )

    def _result(self, response: httpx.Response, prompt: str) -> ChatResult:
        response.raise_for_status()  # translated with this model's identity by the caller
        try:
            payload = response.json()
        except ValueError as exc:
            raise ProviderResponseError(f"response is not JSON: {response.text[:120]!r}") from exc
        answer = extract_path(payload, self.response_extract)
        text = answer if isinstance(answer, str) else str(answer)
        usage = {"input_tokens": count_tokens(prompt), "output_tokens": count_tokens(text)}
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        message = AIMessage(content=text, usage_metadata=usage, response_metadata={"usage_estimated": True})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        url, body, headers, prompt = self._request(messages)
        try:
            response = httpx.post(url, json=body, headers=headers, timeout=self.timeout)
            return self._result(response, prompt)
        except Exception as exc:
            raise self._provider_error(exc) from exc

    async def _agenerate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        url, body, headers, prompt = self._request(messages)
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(url, json=body, headers=headers)
            return self._result(response, prompt)
        except Exception as exc:
            raise self._provider_error(exc) from exc


def build_http_template(spec: ModelSpec, deployment: Deployment, params: dict[str, Any]) -> ChatHttpTemplate:
    """``params`` are canonical values; the body template decides where each one goes."""
    assert spec.http_template is not None
    template = spec.http_template
    url = deployment.base_url or template.req_url_template or ""
    return ChatHttpTemplate(
        url_template=url,
        body_template=template.body,
        response_extract=template.response_extract,
        headers=template.headers,
        model_name=deployment.model_id or spec.name,
        api_key=os.environ.get(deployment.api_key_env, "") if deployment.api_key_env else "",
        temperature=params.get("temperature"),
        timeout=deployment.timeout,
        metadata=identity(spec, deployment),
    )
