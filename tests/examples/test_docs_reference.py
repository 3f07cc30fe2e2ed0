"""The configuration reference names every setting the code accepts."""

from pathlib import Path

import pytest

from eventhex_django_adapter import DjangoConfig
from eventhex_outbox_relay.settings import RelaySettings, flag_of

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


@pytest.mark.parametrize("field", sorted(DjangoConfig.model_fields))
def test_every_django_config_field_has_a_section(field: str) -> None:
    assert f"### `{field}`" in REFERENCE.read_text()


@pytest.mark.parametrize("field", sorted(RelaySettings.model_fields))
def test_every_relay_setting_is_in_the_table(field: str) -> None:
    text = REFERENCE.read_text()
    assert f"`EVENTHEX_RELAY_{field.upper()}`" in text
    assert f"`{flag_of(field)}" in text
