"""Version matrix: the SQLite pass of the suite on every supported Python x Django pair.

    make matrix                                      # every pair (nox's default)
    nox -t edges                                     # the oldest and the newest pair (CI)
    nox -s "tests(python='3.10', django='5.2')"      # one pair
    nox -l                                           # list the pairs

Interpreters are looked up on PATH; pyenv's installed versions are added to it, so a
machine with pyenv needs no shims.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

# Django release -> the Pythons it supports (Django 6.x needs Python 3.12+).
SUPPORTED = {
    "5.2": ("3.10", "3.11", "3.12", "3.13"),
    "6.0": ("3.12", "3.13"),
    "6.1": ("3.12", "3.13"),
}
PAIRS = [(python, django) for django, pythons in SUPPORTED.items() for python in pythons]
EDGES = {min(PAIRS, key=lambda pair: pair[::-1]), max(PAIRS, key=lambda pair: pair[::-1])}

nox.options.sessions = ["tests"]
# A pair whose interpreter is missing fails the matrix instead of silently skipping.
nox.options.error_on_missing_interpreters = True


def _add_pyenv_to_path() -> None:
    """Put ``$PYENV_ROOT/versions/3.x.y/bin`` on PATH for the Pythons the matrix needs."""
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    wanted = {python for python, _ in PAIRS}
    found = sorted(
        (path for path in versions.glob("3.*") if ".".join(path.name.split(".")[:2]) in wanted),
        reverse=True,  # the newest patch release of each minor version wins
    )
    extra = [str(path / "bin") for path in found if (path / "bin").is_dir()]
    os.environ["PATH"] = os.pathsep.join([*extra, os.environ.get("PATH", "")])


_add_pyenv_to_path()


@nox.session
@nox.parametrize(
    ("python", "django"),
    [
        nox.param(python, django, tags=["edges"] if (python, django) in EDGES else [])
        for python, django in PAIRS
    ],
)
def tests(session: nox.Session, django: str) -> None:
    """The suite on SQLite (``pytest -m "not postgres"``) with one Django release."""
    session.install("-e", ".[test]", f"Django~={django}.0")
    session.run("python", "-m", "django", "--version")
    session.run("pytest", "-m", "not postgres", "-p", "no:cacheprovider", *session.posargs)
