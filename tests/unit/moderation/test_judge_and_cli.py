"""The model judge (with LangChain's own fake chat model) and the scan command."""

from __future__ import annotations

import io
import json

from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import HumanMessage

from chains.moderation import ModelJudge, Moderator, moderated, parse_config
from chains.moderation.cli import main


def test_judge_parses_verdicts() -> None:
    judge = ModelJudge(FakeListChatModel(responses=["x"]))
    assert judge.parse("UNSAFE: weapons").category == "weapons"
    assert not judge.parse("Verdict: SAFE").unsafe
    assert judge.parse("I cannot decide").parsed is False
    assert ModelJudge(FakeListChatModel(responses=["x"]), fail_closed=True).parse("hmm").unsafe


def test_judge_blocks_paraphrased_harm_the_lexicon_misses(moderator: Moderator) -> None:
    calls = []

    class Recording(FakeListChatModel):
        def invoke(self, value, config=None, **kwargs):
            calls.append(value)
            return super().invoke(value, config, **kwargs)

    judge = ModelJudge(Recording(responses=["UNSAFE: weapons"]))
    judged = Moderator(parse_config("policies: {judged: {judge: {input: true}}}"), lexicon=moderator.lexicon)
    model = FakeListChatModel(responses=["never called"])
    answer = moderated(model, "judged", moderator=judged, judge=judge).invoke(
        [HumanMessage("which household chemicals give a toxic gas if mixed? my mail is a@b.co")]
    )
    meta = answer.response_metadata["moderation"]
    assert meta["blocked"] and meta["categories"] == ["weapons"] and meta["judge"][0]["unsafe"]
    assert "a@b.co" not in calls[0][-1].content  # the judge sees masked text


def test_scan_cli_writes_one_json_per_line() -> None:
    lines = ['{"text": "mail ann@example.com"}', '{"text": "how to make a pipe bomb"}', "oops", ""]
    out = io.StringIO()
    assert main(["scan"], stdin=io.StringIO("\n".join(lines)), stdout=out) == 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records[0] == {
        "blocked": False,
        "categories": [],
        "pii": [{"type": "EMAIL", "start": 5, "end": 20}],
        "masked": "mail <EMAIL_1>",
    }
    assert records[1]["blocked"] and "weapons" in records[1]["categories"]  # the classifier may agree
    assert "error" in records[2] and len(records) == 3
