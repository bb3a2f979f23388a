"""The MkDocs reference keeps up with the code: every setting, check and command is documented."""

from __future__ import annotations

import re
from pathlib import Path

from onboarding.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PACKAGE = ROOT / "onboarding"


def _documented(page: str) -> str:
    return (DOCS / page).read_text()


def test_every_setting_is_in_the_settings_reference():
    text = _documented("settings.md")

    missing = [key for key in DEFAULTS if f"| `{key}` |" not in text]

    assert not missing, f"add these ONBOARDING keys to docs/settings.md: {missing}"


def test_every_system_check_id_is_in_the_checks_reference():
    ids = set()
    for module in PACKAGE.rglob("*.py"):
        ids |= set(re.findall(r"""id=["'](onboarding\.[CEIW]\d{3})["']""", module.read_text()))
    text = _documented("checks.md")

    missing = sorted(check_id for check_id in ids if f"`{check_id}`" not in text)

    assert len(ids) >= 12  # the scan found the checks, so an empty diff means something
    assert not missing, f"add these check ids to docs/checks.md: {missing}"


def test_every_management_command_is_in_the_commands_reference():
    commands = {
        path.stem
        for path in (PACKAGE / "management" / "commands").glob("*.py")
        if not path.name.startswith("_")
    }
    text = _documented("commands.md")

    missing = sorted(name for name in commands if f"## `{name}`" not in text)

    assert "onboarding_sync" in commands
    assert not missing, f"add these management commands to docs/commands.md: {missing}"


def test_every_docs_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()

    pages = sorted(path.name for path in DOCS.glob("*.md"))

    assert "index.md" in pages
    assert [page for page in pages if f" {page}" not in nav] == []
