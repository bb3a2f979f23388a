"""The REST API: progress, step actions and idempotent event batches.

Include it with ``path("onboarding/", include("onboarding.urls"))``; its routes live
under ``api/`` in the ``onboarding:api`` namespace. Views are thin: they call
:mod:`onboarding.tracking` and :mod:`onboarding.progress`.
"""
