"""The configuration reference names every setting the code accepts."""

import re
from pathlib import Path

import pytest

from eventhex_django_adapter import DjangoConfig
from eventhex_outbox_relay.settings import RelaySettings, flag_of

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "configuration.md"


@pytest.mark.parametrize("field", sorted(DjangoConfig.model_fields))
def test_every_django_config_field_has_a_section(field: str) -> None:
    assert f"### `{field}`" in REFERENCE.read_text()


@pytest.mark.parametrize("field", sorted(RelaySettings.model_fields))
def test_every_relay_setting_is_in_the_table(field: str) -> None:
    text = REFERENCE.read_text()
    assert f"`EVENTHEX_RELAY_{field.upper()}`" in text
    assert f"`{flag_of(field)}" in text


def _systemd_unit(page: Path) -> str:
    pattern = r"```ini\n(# /etc/systemd/system/eventhex-relay@.*?)```"
    unit = re.search(pattern, page.read_text(), re.S)
    assert unit, f"no eventhex-relay@.service unit in {page}"
    return unit.group(1)


def test_the_relay_readme_and_the_deployment_guide_show_one_systemd_unit() -> None:
    guide = _systemd_unit(ROOT / "docs" / "relay.md")
    readme = _systemd_unit(ROOT / "packages" / "outbox-relay" / "README.md")

    assert readme == guide
    assert "Environment=EVENTHEX_RELAY_HTTP_PORT=910%i" in guide
