"""Size of the widget as browsers download it: JS and CSS, raw and gzipped (budget 6 KB).

Run ``python bench/widget_size.py`` (or ``make widget-size``); exits 1 over budget.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = [
    ROOT / "onboarding/static/onboarding/widget.js",
    ROOT / "onboarding/static/onboarding/widget.css",
]
BUDGET = 6 * 1024


def gzipped(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def sizes() -> dict[str, tuple[int, int]]:
    """``{file name: (raw bytes, gzipped bytes)}``."""
    return {path.name: (len(data), gzipped(data)) for path in FILES for data in [path.read_bytes()]}


def main() -> int:
    total = 0
    for name, (raw, packed) in sizes().items():
        total += packed
        print(f"{name:12} {raw:6d} B raw  {packed:5d} B gzipped")
    print(f"{'total':12} {'':15} {total:5d} B gzipped (budget {BUDGET} B)")
    return 0 if total <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
