"""The quick start and the projections guide run as written, in a fresh Django project.

``eventhex_devtools.doc_examples`` extracts their code blocks and does what each block's
``<!-- example: ... -->`` marker says (CONTRIBUTING.md, "Documentation examples"), in a project
made by ``django-admin startproject`` with this environment's (the newest) Django.
"""

import json
import os
import sys
from pathlib import Path

import pytest
from eventhex_devtools.doc_examples import DocExampleError, DocProject, Example, extract
from eventhex_devtools.postgres import PostgresServer

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDES = [DOCS / "quickstart.md", DOCS / "projections.md"]
# The environment whose python, django-admin and eventhex-relay the guides use: this one, or
# a fresh venv with the wheels installed as the quick start says (.ci/run sets it).
BIN = Path(os.environ.get("DOCS_EXAMPLES_BIN") or Path(sys.executable).parent)


def _guide_examples() -> list[Example]:
    return [example for guide in GUIDES for example in extract(guide)]


def _run_guides(tmp_path: Path, database_settings: str = "") -> None:
    examples = _guide_examples()
    with DocProject(tmp_path, BIN, database_settings=database_settings) as project:
        printed = project.apply_all(examples)
        (drain,) = (e for e in examples if "eventhex-relay drain" in e.code and e.action)
        messages = [json.loads(line) for line in printed[drain.line].splitlines()]
        runner_log = project.started_output()

    # The relay published the quick start's events under their stable names, in order.
    assert [(m["event_name"], m["version"]) for m in messages] == [
        ("shop.OrderPlaced", 1),
        ("shop.OrderShipped", 2),
    ]
    assert messages[0]["data"] == {"order_id": "1", "total": "25.00"}
    # The runner was started and stopped (exit 0 after SIGTERM is checked on leaving).
    assert "shop.order_summaries" in runner_log


def test_the_guides_run_as_written_on_sqlite(tmp_path: Path) -> None:
    _run_guides(tmp_path)


@pytest.mark.postgres
def test_the_guides_run_as_written_on_postgres(
    tmp_path: Path, postgresql_server: PostgresServer
) -> None:
    name = postgresql_server.create_database("docs_examples")
    database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": postgresql_server.user,
        "HOST": postgresql_server.host,
        "PORT": postgresql_server.port,
    }
    _run_guides(tmp_path, f"DATABASES = {{'default': {database!r}}}")


def test_every_guide_block_that_runs_is_marked() -> None:
    actions = [example.action for example in _guide_examples()]

    for action in ("file", "settings", "shell", "run", "start", "output"):
        assert action in actions


def _write(tmp_path: Path, text: str) -> Path:
    document = tmp_path / "guide.md"
    document.write_text(text)
    return document


def test_a_python_block_without_a_marker_is_refused(tmp_path: Path) -> None:
    document = _write(tmp_path, "Text.\n\n```python\nprint(1)\n```\n")

    with pytest.raises(DocExampleError, match=r"guide\.md:3: a python block without"):
        extract(document)


def test_blocks_in_list_items_lose_their_indent_and_keep_their_marker(tmp_path: Path) -> None:
    document = _write(
        tmp_path,
        "1. Write it:\n\n    <!-- example: file shop/x.py -->\n    ```python\n"
        "    def f() -> int:\n        return 1\n    ```\n\n```bash\nls\n```\n",
    )

    first, second = extract(document)

    assert (first.action, first.target, first.line) == ("file", "shop/x.py", 4)
    assert first.code == "def f() -> int:\n    return 1\n"
    assert (second.language, second.action) == ("bash", "")


def test_an_example_that_fails_or_prints_otherwise_fails_the_run(tmp_path: Path) -> None:
    broken = _write(
        tmp_path,
        "<!-- example: run -->\n```bash\npython manage.py startapp shop\n```\n\n"
        "<!-- example: settings -->\n```python\nINSTALLED_APPS = [..., 'shop']\n```\n\n"
        "<!-- example: shell -->\n```python\nfrom django.conf import settings\n"
        "print(settings.INSTALLED_APPS[-1])\n```\n\n"
        "<!-- example: output -->\n```text\nsomething else\n```\n",
    )

    with (
        DocProject(tmp_path / "project", BIN) as project,
        pytest.raises(DocExampleError, match=r"guide\.md:18: the docs show\nsomething else"),
    ):
        project.apply_all(extract(broken))
    # The settings example added to the list instead of replacing it.
    assert "'shop'" in project.settings_file.read_text()

    failing = _write(tmp_path, "<!-- example: shell -->\n```python\nraise SystemExit(3)\n```\n")
    with (
        DocProject(tmp_path / "other", BIN) as project,
        pytest.raises(DocExampleError, match=r"guide\.md:2: exit 3"),
    ):
        project.apply_all(extract(failing))
