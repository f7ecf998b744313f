"""Reusable de-identification (6.3.1.1.7 d): mask, keyed hash and generalise PII, in text and records.

The PII detectors are the content-safety ones (:mod:`security.safety.pii`); this package only
decides what a detected value becomes.
"""

from security.masking.records import MaskingPolicy, mask_record, mask_text
from security.masking.strategies import Strategy, apply, derive_salt, generalise, hash_with_salt, mask

__all__ = [
    "MaskingPolicy",
    "Strategy",
    "apply",
    "derive_salt",
    "generalise",
    "hash_with_salt",
    "mask",
    "mask_record",
    "mask_text",
]
