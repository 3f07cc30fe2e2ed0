#!/usr/bin/env python
"""Django's command-line utility for the ledger example.

Run it from this folder (``python manage.py migrate``); the database comes from
``EVENTHEX_DEMO_DATABASE_URL`` or defaults to ``.data/ledger.sqlite3`` here.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledger_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
