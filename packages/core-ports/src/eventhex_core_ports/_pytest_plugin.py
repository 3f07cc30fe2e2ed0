"""pytest plugin (entry point ``pytest11``): rewrite the contract kit's asserts.

Without it, a failing contract test reports a bare ``AssertionError`` because the kit lives in an
installed package rather than in the adapter's test tree.
"""

import pytest

pytest.register_assert_rewrite("eventhex_core_ports.testing")
