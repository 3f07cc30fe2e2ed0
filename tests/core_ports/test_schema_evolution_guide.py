"""docs/schema-evolution.md runs as written: its Python blocks, in order, in a fresh process
(its registrations into the default registry must not leak into other tests)."""

import re
import subprocess
import sys
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "schema-evolution.md"


def test_the_schema_evolution_guide_runs_as_written() -> None:
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 5
    script = "\n".join(blocks) + "\nprint('guide ran')\n"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("guide ran")
