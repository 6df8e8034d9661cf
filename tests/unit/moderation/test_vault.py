"""Reversible placeholders, consistent within a conversation."""

from __future__ import annotations

from chains.moderation import Moderator, PiiVault, VaultStore


def test_same_value_same_placeholder_across_formats() -> None:
    vault = PiiVault()
    assert vault.placeholder("PHONE", "+86 138 0013 8000") == "<PHONE_1>"
    assert vault.placeholder("PHONE", "13800138000") == "<PHONE_1>"
    assert vault.placeholder("PHONE", "(415) 555-0132") == "<PHONE_2>"
    assert vault.placeholder("EMAIL", "Ann@Example.com") == "<EMAIL_1>"


def test_restore_only_known_placeholders() -> None:
    vault = PiiVault()
    vault.placeholder("EMAIL", "ann@example.com")
    assert vault.restore("to <EMAIL_1>, < email_1 >, not <EMAIL_2>") == (
        "to ann@example.com, ann@example.com, not <EMAIL_2>"
    )


def test_placeholders_stay_consistent_over_turns(moderator: Moderator) -> None:
    vault = PiiVault()
    first, _ = moderator.screen("I am ann@example.com, card 4111 1111 1111 1111").masked(vault)
    second, refs = moderator.screen("bob@example.com and again ANN@example.com").masked(vault)
    assert first == "I am <EMAIL_1>, card <CREDIT_CARD_1>"
    assert second == "<EMAIL_2> and again <EMAIL_1>"
    assert refs == [{"type": "EMAIL", "placeholder": "<EMAIL_2>"}, {"type": "EMAIL", "placeholder": "<EMAIL_1>"}]


def test_store_keeps_one_vault_per_conversation_and_forgets_old_ones() -> None:
    store = VaultStore(max_conversations=2)
    a = store.get("a")
    assert store.get("a") is a and store.get("b") is not a
    store.get("c")
    assert store.get("a") is not a  # "a" was the least recently used
