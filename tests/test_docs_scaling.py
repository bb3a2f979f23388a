"""The replica router of docs/scaling.md works: funnel requests read the app's tables from
the replica, every other request from the primary."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
from django.db import router
from django.db.utils import ConnectionDoesNotExist
from django.test import override_settings
from rest_framework.test import APIClient

from onboarding.models import Progress

PAGE = Path(__file__).resolve().parent.parent / "docs" / "scaling.md"
MODULE = "docs_scaling_routers"


@pytest.fixture
def routers(settings):
    """The page's ``proj/routers.py``, importable as a module, installed as the page says."""
    text = PAGE.read_text()
    (code,) = [
        block
        for block in re.findall(r"^```python\n(.*?)^```$", text, re.M | re.S)
        if block.startswith("# proj/routers.py")
    ]
    module = types.ModuleType(MODULE)
    exec(compile(code, str(PAGE), "exec"), module.__dict__)  # the documented code, as is
    sys.modules[MODULE] = module
    middleware = [*settings.MIDDLEWARE, f"{MODULE}.FunnelRequestMiddleware"]
    with override_settings(
        DATABASE_ROUTERS=[f"{MODULE}.FunnelReplicaRouter"], MIDDLEWARE=middleware
    ):
        yield module
    del sys.modules[MODULE]


def test_funnel_requests_read_from_the_replica(routers, admin_user):
    client = APIClient()
    client.force_login(admin_user)

    # The test settings have no "replica" alias: reaching for it shows where reads go.
    with pytest.raises(ConnectionDoesNotExist, match="replica"):
        client.get("/onboarding/api/flows/bingo/funnel/")


def test_other_requests_read_from_the_primary(routers, admin_user):
    client = APIClient()
    client.force_login(admin_user)

    assert client.get("/onboarding/api/flows/bingo/progress/").status_code == 200
    assert client.get("/onboarding/api/flows/").status_code == 200
    # Outside any request, and after a funnel request, the router leaves reads alone.
    with pytest.raises(ConnectionDoesNotExist):
        client.get("/onboarding/api/flows/bingo/funnel/")
    assert router.db_for_read(Progress) == "default"
    assert client.get("/onboarding/api/flows/bingo/progress/").status_code == 200
