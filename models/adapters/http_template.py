"""``http_template`` provider: any JSON-over-HTTP model API described by templates.

The registered template (OperateGPT's ``req_url_template`` / ``body`` / ``response_extract``)
is never mutated: every call fills a deep copy, replacing ``{USER_PROMPT}``,
``{MODEL_TEMPERATURE}`` and ``{MODEL_NAME}``. A placeholder that is a whole string value is
replaced by the typed value (a float for the temperature), otherwise it is substituted as
text. The answer is found by a path like ``data.items[].attributes.answer`` (``[]`` takes the
first list element, ``[2]`` a given one); a path that does not match raises a
ProviderResponseError naming the path and the keys that were there.
"""

from __future__ import annotations

import copy
import os
import re
from typing import Any

import httpx
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from core.errors import ProviderResponseError
from models.adapters.base import CatalogChatMixin, identity
from models.spec import Deployment, ModelSpec
from models.tokens import count_tokens

__all__ = ["ChatHttpTemplate", "build_http_template", "extract_path", "fill_template"]

_PLACEHOLDER = re.compile(r"\{(USER_PROMPT|MODEL_TEMPERATURE|MODEL_NAME|API_KEY)\}")


def fill_template(template: Any, values: dict[str, Any]) -> Any:
    """A filled deep copy of ``template``; the template itself is left untouched."""
    if isinstance(template, dict):
        return {key: fill_template(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [fill_template(value, values) for value in template]
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return copy.deepcopy(values.get(whole.group(1), template))
        return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)
    return copy.deepcopy(template)


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
    """A chat model over a templated JSON HTTP API (the last user message is the prompt)."""

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
        users = [m for m in messages if m.type == "human"]
        prompt = users[-1].text if users else (messages[-1].text if messages else "")
        return {
            "USER_PROMPT": prompt,
            "MODEL_TEMPERATURE": self.temperature,
            "MODEL_NAME": self.model_name,
            "API_KEY": self.api_key,
        }

    def _request(self, messages: list[BaseMessage]) -> tuple[str, dict[str, Any], dict[str, str], str]:
        values = self._values(messages)
        return (
            fill_template(self.url_template, values),
            fill_template(self.body_template, values),
            fill_template(self.headers, values),
            values["USER_PROMPT"],
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
