"""Release check: build the three packages, check their metadata, install the wheels into a
fresh environment and use them there as a user would.

``hatch run release:check [DIST]`` (CI runs it) does, from the repository root:

1. ``python -m build`` for each package: its sdist, then its wheel built *from that sdist*
   (the version comes from ``VERSION`` at the root, and an sdist carries it in ``PKG-INFO``);
2. ``twine check --strict`` on every file, and checks of its own: one version for all three, the
   root ``VERSION``; the adapter and the relay pin core-ports to it; every wheel has ``py.typed``;
3. a new virtual environment with the three wheels (their dependencies from the index), in which
   this file runs again (``--inside``) with nothing of the repository importable: it imports the
   packages, runs ``eventhex-relay --help``, migrates a SQLite database of a tiny Django project,
   appends one event through the outbox, loads it back, and lets ``eventhex-relay drain`` publish
   it to standard output.

Failures raise ``SystemExit`` naming what is wrong; the build directory is DIST (kept) or a
temporary one (deleted).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "core-ports": "eventhex_core_ports",
    "django-adapter": "eventhex_django_adapter",
    "outbox-relay": "eventhex_outbox_relay",
}

_SETTINGS = """
DATABASES = {{"default": {{
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": {database!r},
    "OPTIONS": {{"transaction_mode": "IMMEDIATE"}},
}}}}
INSTALLED_APPS = ["eventhex_django_adapter"]
USE_TZ = True
SECRET_KEY = "wheel-smoke"
"""


def _run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(
            f"failed ({result.returncode}): {' '.join(map(str, command))}\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result.stdout


def build(dist: Path) -> str:
    """Build every sdist and wheel into ``dist``, check them; the version they share."""
    version = (ROOT / "VERSION").read_text().strip()
    for folder in PACKAGES:
        print(f"build {folder}", flush=True)
        _run(sys.executable, "-m", "build", "--outdir", dist, ROOT / "packages" / folder)
    files = sorted(dist.iterdir())
    _run(sys.executable, "-m", "twine", "check", "--strict", *files)
    wheels = [f for f in files if f.suffix == ".whl"]
    names = sorted(f.name for f in files)
    expected = sorted(
        name
        for folder in PACKAGES
        for name in (
            f"eventhex_{folder.replace('-', '_')}-{version}.tar.gz",
            f"eventhex_{folder.replace('-', '_')}-{version}-py3-none-any.whl",
        )
    )
    if names != expected:
        raise SystemExit(f"built {names}, expected {expected} (VERSION is {version})")
    for wheel, module in zip(wheels, sorted(PACKAGES.values()), strict=True):
        with zipfile.ZipFile(wheel) as archive:
            if f"{module}/py.typed" not in archive.namelist():
                raise SystemExit(f"{wheel.name} lacks {module}/py.typed")
    print(f"ok: {len(files)} files built and checked, version {version}", flush=True)
    return version


def install(dist: Path, where: Path) -> Path:
    """A fresh virtual environment in ``where`` with the wheels of ``dist``; its python."""
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    wheels = sorted(dist.glob("*.whl"))
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *wheels)
    return python


def inside(version: str, scratch: Path) -> None:
    """The checks that run in the fresh environment (nothing of the repository importable)."""
    from importlib.metadata import requires

    import eventhex_core_ports
    import eventhex_django_adapter
    import eventhex_outbox_relay

    for module in (eventhex_core_ports, eventhex_django_adapter, eventhex_outbox_relay):
        if module.__version__ != version:
            raise SystemExit(
                f"{module.__name__}.__version__ is {module.__version__}, not {version}"
            )
        if not str(module.__file__).startswith(sys.prefix):
            raise SystemExit(f"{module.__name__} imported from {module.__file__}, not the wheel")
    for dist in ("eventhex-django-adapter", "eventhex-outbox-relay"):
        pins = [r for r in requires(dist) or [] if r.startswith("eventhex-core-ports")]
        if pins != [f"eventhex-core-ports[logs]=={version}"]:
            raise SystemExit(f"{dist} requires {pins}: pin eventhex-core-ports[logs]=={version}")
    relay = Path(sys.prefix) / "bin" / "eventhex-relay"
    if "drain" not in _run(relay, "--help"):
        raise SystemExit("eventhex-relay --help does not list drain")

    (scratch / "smoke_settings.py").write_text(
        _SETTINGS.format(database=str(scratch / "db.sqlite3"))
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "smoke_settings", "PYTHONPATH": str(scratch)}
    sys.path.insert(0, str(scratch))
    os.environ.update(env)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from event_sourcery import Event, StreamId

    from eventhex_django_adapter import DjangoBackend, DjangoConfig

    class SmokeTested(Event):
        __event_name__ = "eventhex.smoke.SmokeTested"  # defined in __main__: it needs a name

        note: str

    backend = DjangoBackend().configure(DjangoConfig()).with_outbox()
    stream = StreamId(name="smoke-1", category="smoke")
    backend.event_store.append(SmokeTested(note="from the wheels"), stream_id=stream)
    [loaded] = backend.event_store.load_stream(stream)
    if loaded.event != SmokeTested(note="from the wheels") or loaded.version != 1:
        raise SystemExit(f"loaded {loaded!r}")
    published = _run(relay, "drain", "--source", "django", "--publisher", "stdout:", env=env)
    [line] = published.splitlines()
    if json.loads(line)["event_uuid"] != str(loaded.uuid):
        raise SystemExit(f"the relay published {line!r}, not event {loaded.uuid}")
    print(f"ok: the three wheels {version} import, migrate, append, load and relay", flush=True)


def main(argv: list[str]) -> None:
    """``[DIST]`` outside (build, check, install, run inside); ``--inside VERSION`` inside."""
    if argv[:1] == ["--inside"]:
        with tempfile.TemporaryDirectory() as scratch:
            inside(argv[1], Path(scratch))
        return
    with tempfile.TemporaryDirectory() as temporary:
        dist = Path(argv[0]).resolve() if argv else Path(temporary) / "dist"
        dist.mkdir(parents=True, exist_ok=True)
        if any(dist.iterdir()):
            raise SystemExit(f"{dist} is not empty")
        version = build(dist)
        python = install(dist, Path(temporary) / "venv")
        inside_run = _run(python, "-I", Path(__file__), "--inside", version, cwd=Path(temporary))
        print(inside_run, end="")


if __name__ == "__main__":
    main(sys.argv[1:])
