"""``python -m eventhex_outbox_relay``: the same as ``eventhex-relay``."""

import sys

from eventhex_outbox_relay.cli import main

sys.exit(main())
