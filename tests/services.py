"""Is a service reachable? Used by ``make test`` before the PostgreSQL pass.

Exit 0: reachable. Exit 3: not reachable, the pass is skipped (a reason is printed).
Exit 1: not reachable but required (``CI=true`` or ``ONBOARDING_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import os
import sys


def required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or (
        os.environ.get("ONBOARDING_REQUIRE_SERVICES") == "1"
    )


def postgres_error(url: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(url.replace("postgres://", "postgresql://", 1), connect_timeout=3):
            return None
    except psycopg.Error as error:
        return str(error).strip()


def main(argv: list[str]) -> int:
    service, url = argv[1], argv[2]
    if service != "postgres":
        print(f"unknown service {service!r}", file=sys.stderr)
        return 2
    error = postgres_error(url)
    if error is None:
        return 0
    if required():
        print(f"FAILED: PostgreSQL is required here but not reachable at {url}: {error}")
        return 1
    print(f"SKIPPED the PostgreSQL pass: not reachable at {url} ({error}).")
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv))
