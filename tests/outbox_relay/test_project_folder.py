"""The ``eventhex-relay`` console script run from a Django project's folder, as a new user runs
it: no PYTHONPATH, the project's settings module next to the working directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RELAY = Path(sys.executable).with_name("eventhex-relay")

SETTINGS = """
SECRET_KEY = "not-secret"
USE_TZ = True
INSTALLED_APPS = {apps!r}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": {name!r},
        "OPTIONS": {{"transaction_mode": "IMMEDIATE"}},
    }}
}}
"""


def make_project(folder: Path, apps: list[str] | None = None) -> Path:
    """A project like ``django-admin startproject mysite`` makes: ``folder/mysite/settings.py``
    on a SQLite database in ``folder``."""
    package = folder / "mysite"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    installed = ["eventhex_django_adapter"] if apps is None else apps
    (package / "settings.py").write_text(
        SETTINGS.format(apps=installed, name=str(folder / "db.sqlite3"))
    )
    return folder


def project_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: settings module named, nothing on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTHEX_", "PYTHONPATH"))}
    return {**env, "DJANGO_SETTINGS_MODULE": "mysite.settings", **extra}


def relay(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``eventhex-relay`` in ``cwd``."""
    return subprocess.run(
        [str(RELAY), *args],
        cwd=cwd,
        env=project_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def migrate(project: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "-v", "0"],
        cwd=project,
        env=project_env(),
        check=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def migrated_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = make_project(tmp_path_factory.mktemp("project"))
    migrate(project)
    return project


def test_the_relay_finds_the_project_from_its_folder(migrated_project: Path) -> None:
    done = relay(migrated_project, "status", "--json", "--source", "django")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pending"] == 0


def test_a_drain_from_the_project_folder_publishes_and_ends(migrated_project: Path) -> None:
    done = relay(migrated_project, "drain", "--source", "django", "--publisher", "null:")
    assert done.returncode == 0, done.stderr
    assert "eventhex-relay drain: published 0" in done.stderr


def test_from_another_folder_the_error_names_the_folder_to_run_from(tmp_path: Path) -> None:
    make_project(tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = relay(elsewhere, "status", "--source", "django")
    assert done.returncode == 2
    assert (
        "DJANGO_SETTINGS_MODULE=mysite.settings cannot be imported: No module named 'mysite'; "
        "run eventhex-relay from the folder that contains mysite/ or set PYTHONPATH"
    ) in done.stderr
    assert "invalid setting" not in done.stderr
    assert "Traceback" not in done.stderr


def test_pythonpath_still_finds_the_project_from_elsewhere(
    migrated_project: Path, tmp_path: Path
) -> None:
    done = relay(
        tmp_path, "status", "--json", "--source", "django", PYTHONPATH=str(migrated_project)
    )
    assert done.returncode == 0, done.stderr


def test_a_package_the_settings_import_is_missing_is_not_blamed_on_the_folder(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path)
    settings = project / "mysite" / "settings.py"
    settings.write_text("import not_installed_anywhere\n" + settings.read_text())
    done = relay(project, "status", "--source", "django")
    assert done.returncode == 2
    assert "No module named 'not_installed_anywhere'" in done.stderr
    assert "run eventhex-relay from the folder" not in done.stderr


def test_a_project_without_the_app_is_told_to_install_it(tmp_path: Path) -> None:
    project = make_project(tmp_path, apps=["django.contrib.contenttypes"])
    done = relay(project, "status", "--source", "django")
    assert done.returncode == 2
    assert "add 'eventhex_django_adapter' to INSTALLED_APPS" in done.stderr
    assert "app_label" not in done.stderr
    assert "invalid setting" not in done.stderr


@pytest.fixture
def unmigrated_project(tmp_path: Path) -> Path:
    """A project whose SQLite database ``migrate`` never ran on."""
    return make_project(tmp_path)


MIGRATE_HINT = "run `python manage.py migrate`"


@pytest.mark.parametrize("command", ["run", "drain"])
def test_the_relay_stops_on_an_unmigrated_database(unmigrated_project: Path, command: str) -> None:
    done = relay(unmigrated_project, command, "--source", "django", "--publisher", "null:")
    assert done.returncode == 1
    assert (
        f"eventhex-relay {command}: stopped: the eventhex tables or functions are missing in "
        "database 'default' (no such table: eventhex_outboxentry): run `python manage.py migrate`"
    ) in done.stderr
    assert done.stderr.count(MIGRATE_HINT) == 1
    assert "Traceback" not in done.stderr


def test_status_on_an_unmigrated_database_names_migrate(unmigrated_project: Path) -> None:
    done = relay(unmigrated_project, "status", "--source", "django")
    assert done.returncode == 1
    assert done.stderr.count(MIGRATE_HINT) == 1
    assert "Traceback" not in done.stderr


def manage(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=project,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_tells_an_unmigrated_project_to_migrate(unmigrated_project: Path) -> None:
    before = manage(unmigrated_project, "check")
    migrate(unmigrated_project)
    after = manage(unmigrated_project, "check")

    assert before.returncode == 0  # a warning: migrate and the other commands still run
    assert "eventhex.W003" in before.stderr
    assert "Run `python manage.py migrate`." in before.stderr
    assert after.returncode == 0
    assert "eventhex.W003" not in after.stderr
    assert "System check identified no issues" in after.stdout


def test_migrate_itself_does_not_warn(unmigrated_project: Path) -> None:
    done = manage(unmigrated_project, "migrate", "-v", "1")
    assert done.returncode == 0, done.stderr
    assert "eventhex.W003" not in done.stdout + done.stderr
