"""The test matrix: ``nox`` runs lint, the suite on SQLite and PostgreSQL with Django 5.2 LTS
(Python 3.11), the suite on PostgreSQL with the newest Django 6 (Python 3.12), and the package
build check. PostgreSQL and Chromium are started by the tests themselves."""

import os
import shutil
import zipfile
from pathlib import Path

import nox


def _make_interpreters_visible(*versions: str) -> None:
    """nox looks for ``python3.12`` on PATH; pyenv's shim for a version that is installed but not
    selected fails there ("command not found"). Put each installed version's own bin directory
    on PATH, so the README's command runs every session as a newcomer types it."""
    installed = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = []
    for version in versions:
        candidates = sorted(installed.glob(f"{version}.*/bin/python{version}"))
        if candidates:
            found.append(str(candidates[-1].parent))
        elif not shutil.which(f"python{version}"):
            print(f"nox: no Python {version} found; install it (e.g. `pyenv install {version}`) to run its sessions.")
    os.environ["PATH"] = os.pathsep.join([*found, os.environ.get("PATH", "")])


_make_interpreters_visible("3.11", "3.12")
nox.options.sessions = ["lint", "tests", "django6", "package"]
nox.options.reuse_existing_virtualenvs = True
ON_CI = bool(os.environ.get("CI"))
#: The suite waits on sockets and a browser more than on the CPU: two workers halve its time.
PYTEST = ("pytest", "-n", "2")


def _needs_postgres(session: nox.Session) -> None:
    found = shutil.which("pg_ctl") or list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        if ON_CI:
            session.error("PostgreSQL is not installed; .ci/run installs it.")
        session.skip("PostgreSQL is not installed here (apt-get install postgresql); skipping.")


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "django_oneclick", "tests", "example_project", "benchmarks", "noxfile.py")
    session.install("-e", ".[test,example]", "mypy", "django-stubs", "djangorestframework-stubs")
    session.run("mypy")


@nox.session(python="3.11")
@nox.parametrize("db", ["sqlite", "postgres"])
def tests(session: nox.Session, db: str) -> None:
    """Django 5.2 LTS on Python 3.11."""
    if db == "postgres":
        _needs_postgres(session)
    session.install("-e", ".[test,example]", "django>=5.2,<6")
    session.run(*PYTEST, *session.posargs, env={"ONECLICK_TEST_DB": db})


@nox.session(python="3.12")
def django6(session: nox.Session) -> None:
    """The newest Django 6 on Python 3.12, on PostgreSQL."""
    _needs_postgres(session)
    session.install("-e", ".[test,example]", "django>=6,<7")
    session.run(*PYTEST, *session.posargs, env={"ONECLICK_TEST_DB": "postgres"})


@nox.session(python="3.11")
def package(session: nox.Session) -> None:
    """The sdist and the wheel build and carry templates, static files and migrations."""
    session.install("build")
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist), silent=True)
    wheel = next(dist.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "django_oneclick/migrations/0001_initial.py",
        "django_oneclick/templates/django_oneclick/button.html",
        "django_oneclick/providers/sandbox/templates/oneclick_sandbox/action.html",
        "django_oneclick/providers/firmly/templates/oneclick_firmly/card_form.html",
        "django_oneclick/providers/firmly/static/oneclick_firmly/firmly-card.js",
        "django_oneclick/static/django_oneclick/oneclick.js",
        "django_oneclick/testing/server.py",
        "django_oneclick/py.typed",
    ):
        if needed not in names:
            session.error(f"{wheel.name} lacks {needed}")
    session.log(f"{wheel.name}: {len(names)} files, templates, static files and migrations included")
