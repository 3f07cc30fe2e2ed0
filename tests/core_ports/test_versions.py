"""The three packages are versioned together, from ``VERSION`` at the repository root."""

from pathlib import Path

import eventhex_core_ports
import eventhex_django_adapter
import eventhex_outbox_relay

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_reports_the_version_of_the_version_file() -> None:
    version = (ROOT / "VERSION").read_text().strip()
    assert [
        eventhex_core_ports.__version__,
        eventhex_django_adapter.__version__,
        eventhex_outbox_relay.__version__,
    ] == [version] * 3
