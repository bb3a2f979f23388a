"""The built distributions, as someone else's project gets them.

Builds the sdist and, from it, the wheel (``python -m build``), checks what they carry,
then installs the wheel into a fresh virtual environment and runs a throwaway host
project through the README's quick start: startproject, add the app and its urls,
declare a flow, migrate, render the template tag, press "use defaults".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import django
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "onboarding"
TIMEOUT = 600  # seconds per subprocess; a hung pip should fail the test, not the run


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command, failing the test with its output when it exits non-zero."""
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist and the wheel built from it, as a release would make them."""
    out = tmp_path_factory.mktemp("dist")
    # The tree as it was built, so files added to a working copy meanwhile do not count.
    (out / "tree.txt").write_text("\n".join(sorted(_package_files_to_ship())))
    _run(sys.executable, "-m", "build", "--outdir", out, ROOT, cwd=out)
    (sdist,) = out.glob("django_onboarding-*.tar.gz")
    (wheel,) = out.glob("django_onboarding-*-py3-none-any.whl")
    return {"sdist": sdist, "wheel": wheel, "tree": out / "tree.txt"}


def _package_files_to_ship() -> set[str]:
    """Every file of the package in the source tree, except bytecode caches."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix not in {".pyc", ".pyo"}
        and not path.name.startswith(".")
    }


def test_assets_kept_outside_the_package_have_a_shipped_copy():
    """Only files under ``onboarding/`` reach the wheel and Django's app-directories
    finders: a top-level ``static/`` (the widget's source) needs its copy in the package."""
    missing = [
        path.relative_to(ROOT).as_posix()
        for folder in ("static", "templates", "locale")
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and not (PACKAGE / path.relative_to(ROOT)).is_file()
    ]

    assert missing == [], f"not shipped (run `make static` for the widget): {missing}"


@pytest.mark.slow
def test_wheel_carries_templates_static_locales_migrations_and_py_typed(dist):
    names = set(zipfile.ZipFile(dist["wheel"]).namelist())

    for required in (
        "onboarding/py.typed",
        "onboarding/templates/onboarding/progress.html",
        "onboarding/migrations/0001_squashed_0007_release_0_1.py",
        "onboarding/templatetags/onboarding_tags.py",
    ):
        assert required in names
    # Whatever is added under templates/, static/onboarding/ or locale/ later ships too.
    missing = set(dist["tree"].read_text().splitlines()) - names
    assert not missing, f"in the source tree but not in the wheel: {sorted(missing)}"
    # Only the package: no tests, demo or docs installed into site-packages.
    top_level = {name.split("/")[0] for name in names}
    assert {top for top in top_level if not top.endswith(".dist-info")} == {"onboarding"}


@pytest.mark.slow
def test_wheel_metadata_names_license_python_and_django(dist):
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        (metadata_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = wheel.read(metadata_name).decode()

    assert "License-Expression: BSD-3-Clause" in metadata
    assert "Requires-Python: >=3.10" in metadata
    assert "Requires-Dist: Django<7,>=5.2" in metadata
    assert "Classifier: Typing :: Typed" in metadata


@pytest.mark.slow
def test_sdist_carries_tests_docs_and_changelog(dist):
    with tarfile.open(dist["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}

    for required in (
        "LICENSE",
        "README.md",
        "CHANGELOG.md",
        "mkdocs.yml",
        "docs/index.md",
        "noxfile.py",
        "tests/conftest.py",
        "tests/factories.py",
        "tests/testapp/onboarding_flows.py",
        "onboarding/templates/onboarding/progress.html",
    ):
        assert required in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".sqlite3")]


FLOWS_MODULE = """
from onboarding import Flow, Step, register


def use_default_theme(subject, actor):
    \"\"\"The smart default: nothing to store, the light theme is already the default.\"\"\"


register(
    Flow(
        key="welcome",
        title="Welcome aboard",
        steps=[
            Step("profile", "Fill in your profile", estimated_seconds=60),
            Step(
                "theme",
                "Pick a theme",
                estimated_seconds=30,
                default=use_default_theme,
                default_label="Keep the light theme",
            ),
        ],
    )
)
"""

# Run with ``manage.py shell -c``: one user, one tracked step, the tag rendered before
# and after pressing the checklist's "use defaults" button (a plain form POST).
HOST_SCRIPT = """
import json

import onboarding
from django.contrib.auth import get_user_model
from django.template import engines
from django.test import Client, RequestFactory
from django.urls import reverse

user = get_user_model().objects.create_user("ada", password="not-used")
onboarding.track(user, "welcome", "profile")
template = engines["django"].from_string(
    '{% load onboarding_tags %}{% onboarding_progress "welcome" %}'
)


def render():
    request = RequestFactory().get("/dashboard/")
    request.user = user
    return template.render({}, request)


before = render()
client = Client(HTTP_HOST="localhost")
client.force_login(user)
action = reverse("onboarding:step-action", args=["welcome", "theme", "default"])
response = client.post(action, {"next": "/dashboard/"})
print(json.dumps({
    "module": onboarding.__file__,
    "action": action,
    "before": before,
    "status": response.status_code,
    "location": response.get("Location", ""),
    "after": render(),
}))
"""


def _host_env(venv: Path) -> dict[str, str]:
    """The environment of a shell in the fresh venv, without this test run's settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_a_new_host_project(dist, tmp_path):
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python, env = venv / "bin" / "python", _host_env(venv)
    # The Django this run tests with, so the version matrix checks the wheel with each.
    _run(
        python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        dist["wheel"], f"Django=={django.get_version()}",
        cwd=tmp_path, env=env,
    )  # fmt: skip

    _run(venv / "bin" / "django-admin", "startproject", "host", tmp_path, cwd=tmp_path, env=env)
    manage = (python, tmp_path / "manage.py")
    _run(*manage, "startapp", "welcome", cwd=tmp_path, env=env)
    (tmp_path / "welcome" / "onboarding_flows.py").write_text(FLOWS_MODULE)
    settings = tmp_path / "host" / "settings.py"
    settings.write_text(settings.read_text() + '\nINSTALLED_APPS += ["onboarding", "welcome"]\n')
    urls = tmp_path / "host" / "urls.py"
    urls.write_text(
        urls.read_text().replace(
            "from django.urls import path", "from django.urls import include, path"
        )
        + '\nurlpatterns += [path("onboarding/", include("onboarding.urls"))]\n'
    )

    _run(*manage, "check", cwd=tmp_path, env=env)
    # The shipped migrations match the models under this Django version.
    _run(*manage, "makemigrations", "onboarding", "--check", "--dry-run", cwd=tmp_path, env=env)
    migrated = _run(*manage, "migrate", "--noinput", cwd=tmp_path, env=env)
    # A new install applies the squashed 0.1 migration, not the seven it replaces.
    assert "Applying onboarding.0001_squashed_0007_release_0_1... OK" in migrated
    assert "0002_api_keys" not in migrated
    output = _run(*manage, "shell", "-c", textwrap.dedent(HOST_SCRIPT), cwd=tmp_path, env=env)
    result = json.loads(output.strip().splitlines()[-1])

    assert result["module"].startswith(str(venv)), "imported the checkout, not the wheel"
    before = result["before"]
    assert 'role="progressbar"' in before
    assert 'aria-valuenow="1"' in before and 'aria-valuemax="2"' in before
    assert "1 of 2 done" in before and "about 30 seconds left" in before
    assert f'action="{result["action"]}"' in before
    assert result["action"] == "/onboarding/actions/welcome/theme/default/"
    assert "Keep the light theme" in before
    assert (result["status"], result["location"]) == (302, "/dashboard/")
    after = result["after"]
    assert 'aria-valuenow="2"' in after and "All done" in after
    assert "Keep the light theme" not in after
