"""Rate limits per subject (team members share one) and per API key; 429 with Retry-After.

Fixed windows: a rate of N per minute lets N requests through in each clock minute
(windows start at multiples of the period since the epoch) and answers the rest 429,
``Retry-After`` giving the seconds to the next window. Each request is counted with one
atomic increment in Django's default cache, so concurrent requests are counted exactly;
DRF's own throttles read a history, add to it and write it back, losing concurrent hits.
"""

from __future__ import annotations

import math
import time
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from rest_framework.throttling import SimpleRateThrottle

from onboarding.api.models import ApiKey
from onboarding.api.principals import throttle_ident
from onboarding.conf import onboarding_settings

# How long a cache without an atomic increment (the database cache) is locked for one
# count; a process dying while it holds the lock delays the others this long at most.
LOCK_SECONDS = 2
LOCK_WAIT_SECONDS = 5


def count_hit(cache: BaseCache, key: str, *, timeout: int) -> int:
    """Add one to the counter ``key`` (created with ``timeout``) and return its new value;
    0 for a cache that keeps nothing (``DummyCache``), which therefore throttles nothing."""
    if type(cache).incr is BaseCache.incr:
        # The base incr is get-then-set (database and file caches): serialize it.
        return _locked_count(cache, key, timeout=timeout)
    for _attempt in range(3):
        try:
            return cache.incr(key)
        except ValueError:
            # Not there yet (or expired, culled): create it; a concurrent add that wins
            # is as good, and the incr that follows counts on whichever was made.
            cache.add(key, 0, timeout)
    return 0


def _locked_count(cache: BaseCache, key: str, *, timeout: int) -> int:
    """Get-then-set under a lock taken with ``cache.add`` (atomic in the database cache:
    the key is the table's primary key)."""
    lock = f"{key}:lock"
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    pause = 0.001
    while not cache.add(lock, 1, LOCK_SECONDS):
        if time.monotonic() > deadline:
            break  # a lock left by a dead process: count without it rather than hang
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    try:
        value = int(cache.get(key, 0)) + 1
        cache.set(key, value, timeout)
        return value
    finally:
        cache.delete(lock)


class _FixedWindowThrottle(SimpleRateThrottle):
    """Reads its rate from ``ONBOARDING["API_THROTTLE_RATES"][scope]`` (``None``: off) and
    counts in fixed windows of the rate's period."""

    # Set by SimpleRateThrottle.__init__ from the rate; the stubs do not declare them.
    num_requests: int | None
    duration: int | None

    def get_rate(self) -> str | None:
        return (onboarding_settings.API_THROTTLE_RATES or {}).get(self.scope)

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None or self.num_requests is None or self.duration is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        # Kept a period past its window's end: a request that read the clock just
        # before the end still finds its counter.
        hits = count_hit(caches[DEFAULT_CACHE_ALIAS], f"{key}:{window}", timeout=2 * self.duration)
        return hits <= self.num_requests

    def wait(self) -> float:
        """Whole seconds until the next window starts (at least 1)."""
        return max(1, math.ceil(self.window_end - self.now))


class SubjectRateThrottle(_FixedWindowThrottle):
    scope = "subject"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if isinstance(request.auth, ApiKey):
            return None
        ident = throttle_ident(request)
        if ident is None:
            return None
        return self.cache_format % {"scope": "onboarding-subject", "ident": ident}


class ApiKeyRateThrottle(_FixedWindowThrottle):
    scope = "key"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": "onboarding-key", "ident": request.auth.pk}
