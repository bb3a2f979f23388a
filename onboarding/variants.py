"""Deterministic A/B assignment: the same subject always gets the same variant."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def assign_variant(flow_key: str, variants: Mapping[str, int], subject_key: str) -> str:
    """Pick a variant by weight from a hash of flow and subject; ``""`` without variants."""
    total = sum(variants.values())
    if not total:
        return ""
    digest = hashlib.sha256(f"{flow_key}:{subject_key}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % total
    for name, weight in sorted(variants.items()):
        if point < weight:
            return name
        point -= weight
    raise AssertionError("unreachable: weights cover the range")
