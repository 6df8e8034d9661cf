"""The prompt loader: the shipped prompts, every kind of bad file (file, line and field named),
variables and defaults, the chain, and reloading a folder when files change."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from chains.prompt_library import PromptInputError, PromptLibrary, load_prompt
from core.errors import CatalogError
from core.settings import config_dir

GOOD = """\
description: Answer a question about {topic}.
model: smollm2-135m
params: {temperature: 0.1}
messages:
  - role: system
    content: "You answer questions about {topic}. Literal braces: {{ok}}."
  - role: user
    content: "{question}"
variables:
  topic: {default: cooking}
  question:
    description: What to answer.
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> CatalogError:
    with pytest.raises(CatalogError) as caught:
        load_prompt(_write(tmp_path, "p.yaml", text))
    return caught.value


def test_the_shipped_prompts_load():
    library = PromptLibrary(config_dir() / "prompts")
    assert not library.errors
    names = [p.name for p in library.prompts()]
    assert {"summarize", "translate"} <= set(names)
    for prompt in library.prompts():
        assert prompt.spec.description and prompt.spec.messages
        required = {name: "x" for name, var in prompt.variables.items() if var.default is None}
        messages = prompt.template.format_messages(**prompt.inputs(required))
        assert messages and all("{" not in m.text for m in messages)


def test_a_good_prompt(tmp_path):
    prompt = load_prompt(_write(tmp_path, "ask.yaml", GOOD))
    assert prompt.name == "ask" and prompt.spec.model == "smollm2-135m"
    assert prompt.inputs({"question": "Why?"}) == {"topic": "cooking", "question": "Why?"}
    assert prompt.inputs({"question": "Why?", "topic": "tea"})["topic"] == "tea"
    system, user = prompt.template.format_messages(**prompt.inputs({"question": "Why?"}))
    assert system.type == "system" and system.text == "You answer questions about cooking. Literal braces: {ok}."
    assert user.type == "human" and user.text == "Why?"
    assert prompt.router_hints() == {"model": "smollm2-135m", "params": {"temperature": 0.1}}
    described = prompt.describe()
    assert described["variables"] == [
        {"name": "topic", "description": "", "required": False, "default": "cooking"},
        {"name": "question", "description": "What to answer.", "required": True, "default": None},
    ]


def test_the_name_field_wins_over_the_file_name(tmp_path):
    prompt = load_prompt(_write(tmp_path, "file-name.yaml", "name: api-name\n" + GOOD))
    assert prompt.name == "api-name"


def test_missing_and_unknown_variables(tmp_path):
    prompt = load_prompt(_write(tmp_path, "ask.yaml", GOOD))
    with pytest.raises(PromptInputError) as missing:
        prompt.inputs({"topic": "tea"})
    assert missing.value.missing == ["question"] and "missing variable question" in str(missing.value)
    with pytest.raises(PromptInputError) as unknown:
        prompt.inputs({"question": "q", "tpoic": "tea"})
    assert unknown.value.unknown == ["tpoic"] and "(it takes: topic, question)" in str(unknown.value)


def test_the_chain_is_template_then_model_with_the_hints(tmp_path):
    prompt = load_prompt(_write(tmp_path, "ask.yaml", GOOD))
    model = FakeListChatModel(responses=["forty-two"])
    chain = prompt.chain(model)
    assert chain is prompt.chain(model)  # built once per model
    assert chain.invoke(prompt.inputs({"question": "Why?"})).content == "forty-two"
    assert chain.last.config["configurable"] == prompt.router_hints()


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        ("messages:\n  - role: user\n    content: [unclosed\n", 4, "", "invalid YAML"),
        ("model: auto\nparams: 5\nmessages:\n  - {role: user, content: hi}\n", 2, "params", "valid dictionary"),
        ("modle: auto\nmessages:\n  - {role: user, content: hi}\n", 1, "modle", "unknown field"),
        ("model: auto\n", 1, "messages", "this field is required"),
        (
            "messages:\n  - role: user\n    content: hi\n  - role: robot\n    content: x\n",
            4,
            "messages[1].role",
            "'robot'",
        ),
        ("messages:\n  - role: user\n    content: 'hi {name'\n", 3, "messages[0].content", "not a valid template"),
        ("messages:\n  - role: user\n    content: '{a.b}'\n", 3, "messages[0].content", "attribute access"),
        (
            "messages:\n  - role: system\n    content: hi\n  - role: user\n    content: '{text}'\nvariables:\n"
            "  txet: {}\n",
            5,
            "messages[1].content",
            "uses {text}, which is not declared",
        ),
        (
            "messages:\n  - role: user\n    content: '{text}'\nvariables:\n  text:\n  unused: {default: 1}\n",
            6,
            "variables.unused",
            "declared but no message uses it",
        ),
        ("name: 'has space'\nmessages:\n  - {role: user, content: hi}\n", 1, "name", "pattern"),
        ("- just\n- a list\n", 1, "", "expected a mapping"),
    ],
)
def test_bad_files_name_the_line_and_field(tmp_path, text, line, field, words):
    error = _error(tmp_path, text)
    assert error.source.endswith("p.yaml") and error.line == line and error.field == field
    assert words in str(error) and f"p.yaml:{line}" in str(error)


def test_the_library_keeps_good_prompts_reports_bad_ones_and_reloads(tmp_path):
    _write(tmp_path, "ask.yaml", GOOD)
    _write(tmp_path, "bad.yaml", "messages: 3\n")
    _write(tmp_path, "notes.txt", "not a prompt")
    library = PromptLibrary(tmp_path, check_seconds=0)
    assert [p.name for p in library.prompts()] == ["ask"]
    assert list(library.errors) == ["bad.yaml"] and library.errors["bad.yaml"].field == "messages"
    with pytest.raises(KeyError, match="no prompt named 'nope'; known: ask"):
        library.get("nope")

    _write(tmp_path, "bad.yaml", "messages:\n  - {role: user, content: 'fixed {x}'}\n")
    _write(tmp_path, "twin.yml", "name: ask\nmessages:\n  - {role: user, content: hi}\n")
    assert [p.name for p in library.prompts()] == ["ask", "bad"]
    assert "already used by ask.yaml" in str(library.errors["twin.yml"])
    (tmp_path / "ask.yaml").unlink()
    assert library.get("bad").inputs({"x": 1}) == {"x": 1}
    assert library.get("ask").source.name == "twin.yml" and not library.errors  # the name is free again


def test_a_missing_folder_is_an_empty_library(tmp_path):
    library = PromptLibrary(tmp_path / "nowhere")
    assert library.prompts() == [] and library.errors == {}
