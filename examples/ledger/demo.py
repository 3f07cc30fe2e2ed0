#!/usr/bin/env python
"""The eventhex demo: a bank ledger on Django, end to end, in one command.

    hatch run demo                      # a fresh SQLite database in a temporary directory
    hatch run demo --postgres           # a throwaway PostgreSQL server started for the run
    EVENTHEX_DEMO_DATABASE_URL=postgresql://user@host:5432/db hatch run demo --reset

It migrates the database, runs a scripted scenario against event-sourced accounts while a
projection runner keeps the balances read model current, drains the outbox through a separate
``eventhex-relay`` process to standard output, checks every result, and prints a summary.
Exit status 0 means every check passed.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger_demo.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
