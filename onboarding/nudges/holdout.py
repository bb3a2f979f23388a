"""Deterministic holdout: the same rule and subject always land in the same group."""

from __future__ import annotations

import hashlib


def held_out(rule_key: str, subject_type_id: int, subject_id: str, share: float) -> bool:
    """True for about ``share`` of subjects, chosen by a hash of rule and subject.

    A hash rather than ``random``: a re-run, another worker or a test gets the same
    answer, and the share is exact in expectation for every rule independently.
    """
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{rule_key}:{subject_type_id}:{subject_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share
