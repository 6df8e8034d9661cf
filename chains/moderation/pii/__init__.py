"""PII detection: pattern and check-digit detectors, names through presidio, overlap resolution."""

from chains.moderation.pii.checksums import cn_id_valid, iban_valid, luhn_valid, ssn_valid
from chains.moderation.pii.detector import PiiDetector, resolve_overlaps
from chains.moderation.pii.ner import NameDetector
from chains.moderation.pii.phone import find_phones
from chains.moderation.pii.spans import NER_TYPES, PII_TYPES, STRUCTURED_TYPES, PiiSpan, pii_view

__all__ = [
    "NER_TYPES",
    "PII_TYPES",
    "STRUCTURED_TYPES",
    "NameDetector",
    "PiiDetector",
    "PiiSpan",
    "cn_id_valid",
    "find_phones",
    "iban_valid",
    "luhn_valid",
    "pii_view",
    "resolve_overlaps",
    "ssn_valid",
]
