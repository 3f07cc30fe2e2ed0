"""What the relay's process imports works before Django is set up.

The relay loads the ``django`` outbox source by name and only then calls ``django.setup()``
(``relay_source.outbox_source``), so neither the source's module nor what it imports may touch
models at import time.
"""

import os
import subprocess
import sys


def test_the_relay_source_imports_before_django_is_set_up() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import eventhex_django_adapter.relay_source"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.django_adapter.settings"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-2000:]
