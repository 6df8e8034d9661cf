"""A conversation full of PII, through moderation, to a hosted (untrusted) model on loopback.

The upstream records every request body: none of the raw values may appear in them, and the
user must see the original values in the echoed answers.
"""

from __future__ import annotations

import json

from langchain_core.messages import HumanMessage, SystemMessage

from chains.moderation import Moderator, moderated
from models.adapters.openai import build_openai
from models.spec import ModelSpec
from tests.support.upstream import FakeUpstream

PII = {
    "EMAIL": "zhang.wei@example.cn",
    "PHONE": "+86 138 0013 8000",
    "CN_ID": "11010519491231002X",
    "CREDIT_CARD": "4111 1111 1111 1111",
    "IBAN": "GB82 WEST 1234 5698 7654 32",
    "IP_ADDRESS": "203.0.113.42",
    "US_SSN": "078-05-1120",
    "ADDRESS": "北京市朝阳区建国路88号3栋2单元501室",
}
TURNS = [
    f"你好，我的邮箱是{PII['EMAIL']}，手机{PII['PHONE']}。",
    f"身份证号{PII['CN_ID']}，请寄到{PII['ADDRESS']}",
    f"Refund to card {PII['CREDIT_CARD']} or IBAN {PII['IBAN']}; my SSN is {PII['US_SSN']}.",
    f"The login came from {PII['IP_ADDRESS']}. Again, my mail: {PII['EMAIL'].upper()}",
]


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isalnum())


def test_hosted_model_never_sees_pii_and_user_sees_it_restored() -> None:
    spec = ModelSpec(
        name="hosted-gpt", provider="openai", deployments=[{"name": "eu", "base_url": "http://127.0.0.1:1/v1"}]
    )
    assert spec.trusted is False
    with FakeUpstream() as upstream:
        deployment = spec.deployments[0].model_copy(update={"base_url": upstream.base_url})
        chat = moderated(build_openai(spec, deployment, {}), "default", moderator=Moderator.from_config())
        config = {"configurable": {"conversation_id": "customer-42"}}
        history = [SystemMessage(f"Customer on file: {PII['EMAIL']}, {PII['PHONE']}")]
        streamed_turn = len(TURNS) - 1
        for index, turn in enumerate(TURNS):
            history.append(HumanMessage(turn))
            if index == streamed_turn:
                answer_text = "".join(str(c.content) for c in chat.stream(history, config))
            else:
                answer = chat.invoke(history, config)
                answer_text = answer.content
                assert answer.response_metadata["moderation"]["pii_masked"] is True
            # The user sees their own values again (a value seen before comes back as first written,
            # so the upper-cased e-mail of the last turn is restored in its first spelling).
            assert answer_text.casefold() == f"echo: {turn}".casefold()
            assert "<" not in answer_text
            if index != streamed_turn:
                history.append(answer)

    sent = json.dumps([r.body for r in upstream.requests], ensure_ascii=False)
    assert len(upstream.requests) == len(TURNS)
    for pii_type, value in PII.items():
        assert value not in sent, pii_type
        assert value.upper() not in sent, pii_type
        assert _digits(value) not in _digits(sent), pii_type
    assert "<EMAIL_1>" in sent and "<CN_ID_1>" in sent and "<ADDRESS_1>" in sent
