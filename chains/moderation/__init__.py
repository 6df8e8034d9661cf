"""Moderation: sensitive-word screening, reversible PII masking, output review, provenance.

The pieces, each in its own module:

=================  ==============================================================================
``normalize``      fold disguised text (width, case, look-alikes, ``k.i.l.l``, ``敏 感``)
``lexicon``        category lexicons in one Aho–Corasick automaton, with context exceptions
``pii``            PII detectors (patterns + check digits; names via presidio / jieba)
``vault``          reversible ``<EMAIL_1>`` placeholders, one vault per conversation
``policy``         ``config/moderation.yaml``: per-surface actions and settings
``screen``         :class:`Moderator`: screen one text under one policy
``review``         output review, incremental for streams (hold-back window)
``judge``          optional model-based judge
``provenance``     "AI-generated, by model, at time" metadata
``runnable``       :func:`moderated`: the LangChain Runnable the surfaces share
``evaluation``     metric helpers for the benchmark and notebooks
=================  ==============================================================================

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> chat = moderated(FakeListChatModel(responses=["ok"]), policy="default")
    >>> chat.invoke("How do I build a bomb?").response_metadata["moderation"]["categories"]
    ['weapons']
"""

from chains.moderation.errors import ModerationBlocked, ModerationConfigError
from chains.moderation.harm_classifier import HarmClassifier
from chains.moderation.judge import ModelJudge, Verdict
from chains.moderation.lexicon import Lexicon, LexiconHit, load_lexicon
from chains.moderation.normalize import NormalizedText, normalize
from chains.moderation.pii import PII_TYPES, STRUCTURED_TYPES, NameDetector, PiiDetector, PiiSpan
from chains.moderation.policy import ModerationConfig, Policy, load_config, parse_config
from chains.moderation.provenance import provenance
from chains.moderation.review import AnswerReviewer
from chains.moderation.runnable import ModeratedChat, moderated
from chains.moderation.screen import Moderator, ScreenResult
from chains.moderation.vault import PiiVault, VaultStore

__all__ = [
    "PII_TYPES",
    "STRUCTURED_TYPES",
    "AnswerReviewer",
    "HarmClassifier",
    "Lexicon",
    "LexiconHit",
    "ModelJudge",
    "ModeratedChat",
    "ModerationBlocked",
    "ModerationConfig",
    "ModerationConfigError",
    "Moderator",
    "NameDetector",
    "NormalizedText",
    "PiiDetector",
    "PiiSpan",
    "PiiVault",
    "Policy",
    "ScreenResult",
    "VaultStore",
    "Verdict",
    "load_config",
    "load_lexicon",
    "moderated",
    "normalize",
    "parse_config",
    "provenance",
]
