"""Every ONBOARDING setting is documented in the README's settings reference."""

from pathlib import Path

import pytest

from onboarding.conf import DEFAULTS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_setting_is_in_the_readme(key):
    assert f"`{key}`" in README, f"ONBOARDING[{key!r}] is missing from README.md's settings table"
