"""Run the documentation's code blocks as written, in a fresh Django project.

A guide whose example stopped working is worse than none, so the guides that a new user
follows (``docs/quickstart.md``, ``docs/projections.md``) are executed by the test suite
(``tests/examples/test_docs_examples.py``). An HTML comment right before a fenced block says
what to do with it; readers never see it:

``<!-- example: file shop/events.py -->``
    The block is the whole content of that file, relative to the folder of ``manage.py``.
``<!-- example: settings -->``
    The block is added to the end of the project's settings module. ``NAME = [..., "x"]``
    means "the items ``NAME`` has, then ``"x"``".
``<!-- example: shell -->``
    The block is typed into ``python manage.py shell``; it must exit 0.
``<!-- example: run -->``
    The block's commands run in the project folder with ``bash -e``; they must exit 0.
``<!-- example: start -->``
    The block's one command is started and left running (a daemon such as the projection
    runner); when the project closes it gets SIGTERM and must exit 0.
``<!-- example: output -->``
    The block is what the example before it printed, line for line (trailing spaces aside).
    ``<!-- example: output eventually -->`` runs that example again, for up to a minute, until
    it prints this (a read model that a started runner fills).
``<!-- example: compile -->``
    Python that needs something the project lacks (a mail server): only compiled.
``<!-- example: skip -->``
    Not run (an install command, output shown for reading).

Every ``python`` block of a checked document must carry a marker, so that a new example is
run or skipped by decision, never by accident; other blocks run only when marked.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ACTIONS", "DocExampleError", "DocProject", "Example", "extract"]

ACTIONS = ("file", "settings", "shell", "run", "start", "output", "compile", "skip")

_MARKER = re.compile(r"^\s*<!--\s*example:\s*(?P<action>\w+)(?:\s+(?P<target>\S+))?\s*-->\s*$")
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<language>[\w+-]*)")
_SPREAD = re.compile(r"^(?P<name>[A-Z][A-Z0-9_]*)\s*=\s*\[\s*\.\.\.\s*,", re.MULTILINE)

_STOP_TIMEOUT = 60.0
_COMMAND_TIMEOUT = 300.0
_EVENTUALLY = 60.0


class DocExampleError(AssertionError):
    """A documented example that is malformed, or that failed when run as written."""


@dataclass(frozen=True)
class Example:
    """One fenced code block of a document, with what its marker says to do with it."""

    document: Path
    line: int
    language: str
    action: str
    target: str
    code: str

    @property
    def where(self) -> str:
        """``document.md:line`` of the opening fence, for error messages."""
        return f"{self.document.name}:{self.line}"


def extract(document: Path) -> list[Example]:
    """Every fenced block of ``document`` with its marker, in document order.

    Raises ``DocExampleError`` for an unknown marker, a ``file`` marker without a path, a
    marker not followed by a block, and a ``python`` block without a marker.
    """
    lines = document.read_text().splitlines()
    examples: list[Example] = []
    marker: tuple[str, str, int] | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if found := _MARKER.match(line):
            if marker is not None:
                raise DocExampleError(f"{document.name}:{marker[2]}: a marker with no block")
            marker = (found["action"], found["target"] or "", index)
            continue
        opening = _FENCE.match(line)
        if opening is None:
            if line.strip() and marker is not None:
                raise DocExampleError(
                    f"{document.name}:{marker[2]}: a marker must come right before its block"
                )
            continue
        start = index
        body: list[str] = []
        closing = re.compile(rf"^\s*{re.escape(opening['fence'])}\s*$")
        while index < len(lines) and not closing.match(lines[index]):
            body.append(lines[index])
            index += 1
        index += 1
        indent = len(opening["indent"])
        code = "\n".join(text[indent:] if text[:indent].isspace() else text for text in body)
        action, target, _ = marker or ("", "", 0)
        marker = None
        examples.append(
            _checked(Example(document, start, opening["language"], action, target, code + "\n"))
        )
    if marker is not None:
        raise DocExampleError(f"{document.name}:{marker[2]}: a marker with no block")
    return examples


def _checked(example: Example) -> Example:
    if example.action and example.action not in ACTIONS:
        raise DocExampleError(
            f"{example.where}: unknown example marker {example.action!r}; use one of {ACTIONS}"
        )
    if example.action == "file" and not example.target:
        raise DocExampleError(f"{example.where}: write `<!-- example: file PATH -->`")
    if example.language == "python" and not example.action:
        raise DocExampleError(
            f"{example.where}: a python block without an `<!-- example: ... -->` marker; "
            "say how it runs (file PATH, settings, shell, compile or skip: see CONTRIBUTING.md)"
        )
    return example


@dataclass
class DocProject:
    """A project made by ``django-admin startproject`` in which examples run as written.

    ``bin_dir`` holds the environment's ``python``, ``django-admin`` and ``eventhex-relay``;
    ``database_settings`` is Python appended after the docs' settings (for instance a
    ``DATABASES`` on a PostgreSQL test server). Use it as a context manager: leaving it stops
    the commands that ``start`` examples left running and checks that they exited 0.
    """

    parent: Path
    bin_dir: Path
    name: str = "mysite"
    database_settings: str = ""
    _original_settings: str = ""
    _settings_added: list[str] = field(default_factory=list)
    _started: list[tuple[Example, subprocess.Popen[str], Path]] = field(default_factory=list)

    @property
    def root(self) -> Path:
        """The folder of ``manage.py``, where commands run and file paths start."""
        return self.parent / self.name

    @property
    def settings_file(self) -> Path:
        """The settings module ``startproject`` wrote."""
        return self.root / self.name / "settings.py"

    def __enter__(self) -> DocProject:
        self.parent.mkdir(parents=True, exist_ok=True)
        self._command(["django-admin", "startproject", self.name], cwd=self.parent, what="")
        self._original_settings = self.settings_file.read_text()
        self._write_settings()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(check=exc_info[0] is None)

    def apply(self, example: Example) -> str:
        """Do what ``example``'s marker says; return what a command printed ("" otherwise)."""
        if example.action == "file":
            path = self.root / example.target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(example.code)
        elif example.action == "settings":
            self._settings_added.append(f"# {example.where}\n{_spread(example.code)}")
            self._write_settings()
        elif example.action == "shell":
            return self.shell(example.code, what=example.where)
        elif example.action == "run":
            return self._command(["bash", "-e", "-c", example.code], cwd=self.root, what=example)
        elif example.action == "start":
            self._start(example)
        elif example.action == "compile":
            compile(example.code, example.where, "exec")
        return ""

    def apply_all(self, examples: list[Example]) -> dict[int, str]:
        """Apply each example in order; what each printed, by its line.

        An ``output`` example must equal what the example before it printed.
        """
        printed: dict[int, str] = {}
        previous = ""
        before: Example | None = None
        for index, example in enumerate(examples):
            if example.action == "output":
                deadline = time.monotonic() + _EVENTUALLY
                while (
                    example.target == "eventually"
                    and before is not None
                    and _lines(previous) != _lines(example.code)
                    and time.monotonic() < deadline
                ):
                    time.sleep(0.5)
                    try:
                        previous = self.apply(before)
                    except DocExampleError as error:  # not there yet: a `.get()` that fails
                        previous = str(error)
                if _lines(previous) != _lines(example.code):
                    raise DocExampleError(
                        f"{example.where}: the docs show\n{example.code}but the example "
                        f"before it printed\n{previous}"
                    )
                continue
            before = example
            try:
                previous = printed[example.line] = self.apply(example)
            except DocExampleError as error:
                if not _awaited(examples[index + 1 :]):
                    raise
                previous = str(error)  # tried again until it prints what the docs show
        return printed

    def shell(self, code: str, what: str = "a shell command") -> str:
        """Run ``code`` in ``python manage.py shell``; its standard output."""
        # Verbosity 0: Django 5.2+ would print its automatic imports before the output.
        command = ["python", "manage.py", "shell", "--verbosity", "0"]
        return self._command(command, cwd=self.root, what=what, stdin=code)

    def close(self, check: bool = True) -> None:
        """SIGTERM what ``start`` examples started; with ``check``, each must exit 0."""
        failures = []
        for example, process, log in self._started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
            if code != 0:
                failures.append(f"{example.where}: exit {code} after SIGTERM\n{log.read_text()}")
        self._started.clear()
        if check and failures:
            raise DocExampleError("\n".join(failures))

    def _start(self, example: Example) -> None:
        command = example.code.replace("\\\n", " ").strip()
        if "\n" in command:
            raise DocExampleError(f"{example.where}: a `start` block holds one command")
        log = self.parent / f"started-{example.line}.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {command}"],
                cwd=self.root,
                env=self._env(),
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self._started.append((example, process, log))

    def started_output(self) -> str:
        """What the started commands have printed so far."""
        return "".join(log.read_text() for _, _, log in self._started)

    def _write_settings(self) -> None:
        tail = [*self._settings_added]
        if self.database_settings:
            tail.append(self.database_settings)
        self.settings_file.write_text("\n\n".join([self._original_settings, *tail]) + "\n")

    def _env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DJANGO_SETTINGS_MODULE", "PYTHONPATH"}
            and not key.startswith("EVENTHEX_")
        }
        env["PATH"] = os.pathsep.join([str(self.bin_dir), env.get("PATH", "")])
        return env

    def _command(
        self, args: list[str], cwd: Path, what: Example | str, stdin: str | None = None
    ) -> str:
        done = subprocess.run(
            args,
            cwd=cwd,
            env=self._env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=_COMMAND_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            where = what.where if isinstance(what, Example) else what
            code = what.code if isinstance(what, Example) else (stdin or " ".join(args))
            raise DocExampleError(
                f"{where or ' '.join(args)}: exit {done.returncode}\n"
                f"--- ran:\n{textwrap.indent(code, '    ')}\n"
                f"--- stdout:\n{done.stdout}\n--- stderr:\n{done.stderr}"
            )
        return done.stdout


def _awaited(rest: list[Example]) -> bool:
    return bool(rest) and (rest[0].action, rest[0].target) == ("output", "eventually")


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]


def _spread(code: str) -> str:
    """``NAME = [..., x]`` -> ``NAME = [*NAME, x]``: the docs' way to say "add to the list"."""
    return _SPREAD.sub(lambda found: f"{found['name']} = [*{found['name']},", code)
