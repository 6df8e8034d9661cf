"""Per-surface policies, and clear errors for a bad moderation.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chains.moderation import ModerationConfigError, Moderator, load_config, parse_config
from core.settings import PROJECT_ROOT

VIOLENT = "I'd like to murder him"


def test_surfaces_differ_on_the_same_text(moderator: Moderator) -> None:
    assert moderator.screen(VIOLENT, "default").actions == {"violence": "flag"}
    assert moderator.screen(VIOLENT, "support", find_pii=False).blocked
    assert moderator.screen("how do I write ransomware", "default").blocked
    assert not moderator.screen("how do I write ransomware", "notebook").blocked


def test_support_inherits_from_default_and_overrides(moderator: Moderator) -> None:
    support = moderator.policy("support")
    assert support.action("weapons") == "block"  # inherited
    assert support.action("profanity") == "block" and support.action("profanity", "output") == "mask"
    assert support.pii.names and not moderator.policy("default").pii.names
    assert moderator.policy("notebook").on_block == "raise"


def test_profanity_is_masked_by_default(moderator: Moderator) -> None:
    masked, _ = moderator.screen("this shit is broken").masked()
    assert masked == "this **** is broken"


def _write(tmp_path: Path, text: str) -> Path:
    shutil.copytree(PROJECT_ROOT / "config" / "moderation", tmp_path / "moderation")
    path = tmp_path / "moderation.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_action_names_file_line_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "policies:\n  default:\n    categories:\n      violence: deny\n")
    with pytest.raises(ModerationConfigError) as caught:
        load_config(path)
    assert caught.value.source == str(path) and caught.value.line == 4
    assert caught.value.field == "policies.default.categories.violence"
    assert "'block', 'mask' or 'flag'" in str(caught.value)


def test_unknown_category_is_reported_with_the_known_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, "policies:\n  default:\n    categories:\n      violense: block\n")
    with pytest.raises(ModerationConfigError, match="unknown category 'violense'.*violence") as caught:
        Moderator.from_config(path)
    assert caught.value.line == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("policies:\n  a: {extends: b}\n", "extends unknown policy 'b'"),
        ("policies:\n  a: {extends: b}\n  b: {extends: a}\n", "circular extends"),
        ("policies:\n  a: {pii: {types: [EMAIL, PASSPORT]}}\n", "Input should be"),
        ("policies:\n  a: {stream_window: -1}\n", "greater than or equal to 0"),
        ("policies:\n  a: {colour: blue}\n", "unknown field"),
        ("policies: [a, b]\n", "expected a mapping"),
        ("policies:\n  a: {categories: {x: block}\n", "invalid YAML"),
    ],
)
def test_invalid_config_is_explained(text: str, message: str) -> None:
    with pytest.raises(ModerationConfigError, match=message):
        parse_config(text, source="moderation.yaml")


def test_unknown_policy_name(moderator: Moderator) -> None:
    with pytest.raises(ModerationConfigError, match="no policy 'kiosk'"):
        moderator.policy("kiosk")
