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


def run_suite(tree: Path, env: dict[str, str], extra: list[str]) -> int:
    """Run the suite's event-store tests once; the pytest exit code."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "eventhex_devtools.upstream_suite.plugin",
        "--ds=eventhex_devtools.upstream_suite.settings",
        "--backends=django",
        "--deselect",
        DESELECTED,
        "-p",
        "no:cacheprovider",
        # The other backends' parametrizations: deselected rather than skipped one by one.
        "-k",
        "not kurrentdb and not in_memory and not sqlalchemy",
        "-q",
        "-rfEs",
        "tests/event_store",
        *extra,
    ]
    return subprocess.run(command, cwd=tree, env=env, check=False).returncode


def main(extra: list[str]) -> int:
    tree = upstream_tree()
    failed = []
    with ThrowawayPostgres(prefix="eventhex-upstream-") as server:
        for use_tz in ("0", "1"):
            print(f"\n==> python-event-sourcery {VERSION} suite on eventhex, USE_TZ={use_tz}")
            env = dict(
                os.environ,
                PYTHONPATH=os.pathsep.join(
                    filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])
                ),
                EVENTHEX_UPSTREAM_USE_TZ=use_tz,
                EVENTHEX_UPSTREAM_PG_HOST=server.host,
                EVENTHEX_UPSTREAM_PG_PORT=str(server.port),
                EVENTHEX_UPSTREAM_PG_USER=server.user,
            )
            if run_suite(tree, env, extra) != 0:
                failed.append(use_tz)
    if failed:
        print(f"upstream suite failed with USE_TZ={', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
