"""Fetch python-event-sourcery 0.6.1's sdist and run its suite on eventhex (see the package).

Usage: ``python -m eventhex_devtools.upstream_suite [PYTEST ARGS...]``. Exits non-zero when a
run fails; prints each run's summary line last.
"""

import os
import subprocess
import sys
import tarfile
from pathlib import Path

from eventhex_devtools.postgres import ThrowawayPostgres

VERSION = "0.6.1"
REPOSITORY = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("EVENTHEX_CACHE", Path.home() / ".cache" / "eventhex")) / "upstream"
DESELECTED = (
    "tests/event_store/subscriptions/test_handling_uncommitted_messages_from_other_clients.py"
    "::TestMissesEventsThatWereNotCommittedWithinSpecifiedTimeout"
)


def upstream_tree() -> Path:
    """The unpacked sdist, downloaded once into the cache."""
    tree = CACHE / f"python_event_sourcery-{VERSION}"
    if (tree / "tests" / "conftest.py").exists():
        return tree
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-binary",
            ":all:",
            "--no-deps",
            "--dest",
            str(CACHE),
            f"python-event-sourcery=={VERSION}",
        ],
        check=True,
    )
    (sdist,) = CACHE.glob(f"python_event_sourcery-{VERSION}.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(CACHE, filter="data")
    return tree


def run_suite(tree: Path, env: dict[str, str], backend: str, paths: list[str]) -> int:
    """Run the suite's tests under ``paths`` with one backend selected; the pytest exit code."""
    others = sorted({"django", "in_memory", "kurrentdb", "sqlalchemy"} - {backend})
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "eventhex_devtools.upstream_suite.plugin",
        "--ds=eventhex_devtools.upstream_suite.settings",
        f"--backends={backend}",
        "--deselect",
        DESELECTED,
        # The other backends' parametrizations: deselected rather than skipped one by one.
        "-k",
        " and ".join(f"not {name}" for name in others),
        "-p",
        "no:cacheprovider",
        "-q",
        "-rfEs",
        *paths,
    ]
    return subprocess.run(command, cwd=tree, env=env, check=False).returncode


RUNS = [
    # (title, --backends, environment, test paths). The event-sourcing tests use the suite's
    # unparametrized in-memory backend, so they run in the in-memory run only.
    ("Django backend on PostgreSQL, USE_TZ = False", "django", {"EVENTHEX_UPSTREAM_USE_TZ": "0"}),
    ("Django backend on PostgreSQL, USE_TZ = True", "django", {"EVENTHEX_UPSTREAM_USE_TZ": "1"}),
    ("in-memory backend", "in_memory", {"EVENTHEX_UPSTREAM_IN_MEMORY": "1"}),
]
PATHS = {
    "django": ["tests/event_store"],
    "in_memory": ["tests/event_store", "tests/event_sourcing"],
}


def main(extra: list[str]) -> int:
    tree = upstream_tree()
    failed = []
    with ThrowawayPostgres(prefix="eventhex-upstream-") as server:
        for title, backend, settings in RUNS:
            print(f"\n==> python-event-sourcery {VERSION} suite on eventhex: {title}", flush=True)
            env = dict(
                os.environ,
                PYTHONPATH=os.pathsep.join(
                    filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])
                ),
                EVENTHEX_UPSTREAM_PG_HOST=server.host,
                EVENTHEX_UPSTREAM_PG_PORT=str(server.port),
                EVENTHEX_UPSTREAM_PG_USER=server.user,
                **settings,
            )
            paths = [*PATHS[backend], *extra]
            if run_suite(tree, env, backend, paths) != 0:
                failed.append(title)
    if failed:
        print(f"upstream suite failed: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
