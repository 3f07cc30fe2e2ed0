"""The configuration reference names every setting the code accepts."""

import re
import tomllib
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


def _distributions() -> dict[str, tuple[str, set[str]]]:
    """Each package's distribution name -> (its folder, its extras)."""
    found = {}
    for pyproject in sorted((ROOT / "packages").glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        extras = set(project.get("optional-dependencies", {}))
        found[project["name"]] = (pyproject.parent.name, extras)
    return found


@pytest.mark.parametrize(
    "page", ["docs/quickstart.md", "README.md", "packages/django-adapter/README.md"]
)
def test_install_commands_name_real_folders_distributions_and_extras(page: str) -> None:
    distributions = _distributions()
    folders = dict(distributions.values())
    text = (ROOT / page).read_text()
    named = re.findall(r"\./(?:eventhex/)?packages/([\w-]+)(?:\[([\w,]+)\])?", text)
    commands = "\n".join(re.findall(r"pip install[^\n]*", text))
    published = re.findall(r"[\"'](eventhex-[\w-]+)(?:\[([\w,]+)\])?[\"']", commands)

    assert named, f"{page} shows no install from a checkout"
    assert published, f"{page} shows no install from the package index"
    for folder, extras in named:
        assert folder in folders, f"{page}: no packages/{folder}"
        assert set(filter(None, extras.split(","))) <= folders[folder], (page, folder, extras)
    for distribution, extras in published:
        assert distribution in distributions, f"{page}: no distribution {distribution}"
        assert set(filter(None, extras.split(","))) <= distributions[distribution][1]
