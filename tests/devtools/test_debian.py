"""The Debian fallback for servers no Python package provides: install as root, else say how."""

from __future__ import annotations

import pytest
from eventhex_devtools.debian import Host, NotInstalled, ensure_debian_packages


def _never() -> bool:
    return False


def test_a_user_who_is_not_root_gets_the_command_at_once() -> None:
    with pytest.raises(NotInstalled) as raised:
        ensure_debian_packages(
            ["rabbitmq-server"], installed=_never, host=Host(root=False, debian=True)
        )

    assert str(raised.value) == (
        "rabbitmq-server is not installed; run: sudo apt-get update && "
        "sudo apt-get install -y --no-install-recommends rabbitmq-server"
    )


def test_root_on_another_system_is_told_to_use_its_package_manager() -> None:
    with pytest.raises(NotInstalled, match="rabbitmq-server is not installed: install it with"):
        ensure_debian_packages(
            ["rabbitmq-server"], installed=_never, host=Host(root=True, debian=False)
        )


def test_what_is_installed_is_left_alone() -> None:
    """Nobody may install here, yet nothing fails: the package is there already."""
    ensure_debian_packages(
        ["rabbitmq-server"], installed=lambda: True, host=Host(root=False, debian=False)
    )
