"""The projections' admin pages in a real browser (Debian's Chromium, driven by Selenium)
against Django's live server: the list shows lag, state and parked events; the parked events'
retry and skip actions work. Screenshots are kept in ``tmp/artifacts/admin``.

Chromium missing makes these tests fail, not skip: a root session on Debian installs
``chromium`` and ``chromium-driver`` itself, anyone else is told the command.
"""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from eventhex_devtools.debian import ensure_debian_packages

from eventhex_django_adapter.projections import load_projections, projection_statuses
from eventhex_django_adapter.projections.models import ParkedEvent
from tests.django_adapter.projections.conftest import (
    append_events,
    backend_for,
    running,
)
from tests.django_adapter.projections.test_runner import applied
from tests.projection_app.projections import AllEvents
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(databases=["default"], transaction=True)

ARTIFACTS = Path(__file__).resolve().parents[3] / "tmp" / "artifacts" / "admin"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,900",
]


def _chromium_installed() -> bool:
    return bool(shutil.which("chromium") and shutil.which("chromedriver"))


@pytest.fixture
def browser() -> Iterator[Any]:
    ensure_debian_packages(["chromium", "chromium-driver"], installed=_chromium_installed)
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = str(shutil.which("chromium"))
    profile = tempfile.mkdtemp(prefix="eventhex-chromium-")
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=str(shutil.which("chromedriver")))
    driver = webdriver.Chrome(options=options, service=service)
    driver.implicitly_wait(10)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _shot(driver: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def _rows(driver: Any) -> dict[str, list[str]]:
    """The change list's rows by their first cell, as lists of cell texts."""
    from selenium.webdriver.common.by import By

    found = {}
    for row in driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr"):
        cells = [c.text for c in row.find_elements(By.CSS_SELECTOR, "th, td")]
        cells = cells[1:] if cells and cells[0] == "" else cells  # the action checkbox
        found[cells[0]] = cells
    return found


def _change_url(parked: ParkedEvent) -> str:
    opts = ParkedEvent._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[parked.pk])


def _choose(driver: Any, action: str, row_ids: list[int]) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    for row_id in row_ids:
        driver.find_element(By.CSS_SELECTOR, f'input.action-select[value="{row_id}"]').click()
    Select(driver.find_element(By.NAME, "action")).select_by_value(action)
    go = driver.find_element(By.CSS_SELECTOR, 'button[name="index"]')
    go.click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(go))  # the next page
    return str(driver.find_element(By.CSS_SELECTOR, "ul.messagelist").text)


def test_projections_and_parked_events_in_the_admin(
    browser: Any, live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selenium.webdriver.common.by import By

    monkeypatch.setattr(AllEvents, "retry_delay", 0.01)
    monkeypatch.setattr(AllEvents, "on_failure", "park")
    AllEvents.fail_on = {"item-3"}  # events 3 and 10
    backend = backend_for("default")
    append_events(backend, 12)
    projections = load_projections(["test.all", "test.cart"])
    with running(backend, projections):
        wait_for(
            lambda: all(s.lag_events == 0 for s in projection_statuses(backend, projections)),
            "both projections to catch up",
        )
    append_events(backend, 3, start=12)  # some lag to show
    AllEvents.fail_on = set()  # the bug is fixed
    User.objects.create_superuser("admin", "admin@example.com", "secret")

    browser.get(f"{live_server.url}/admin/login/?next=/admin/eventhex_projections/projectionstate/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys("secret")
    browser.find_element(By.CSS_SELECTOR, 'input[type="submit"]').click()
    _shot(browser, "1-projections")
    rows = _rows(browser)
    assert set(rows) == {"test.all", "test.cart"}
    _, version, shard, state, position, lag, age, owner, parked_count = rows["test.all"]
    assert (version, shard) == ("1", "-")
    assert (state, lag, owner, parked_count) == ("no runner", "3", "-", "2")
    assert int(position) > 0
    assert age.endswith(" s")

    browser.find_element(By.LINK_TEXT, "2").click()
    parked = list(ParkedEvent.objects.order_by("id"))
    assert len(parked) == 2
    listing = browser.find_element(By.ID, "result_list").text
    assert "RuntimeError: cannot project item item-3" in listing
    _shot(browser, "2-parked-events")

    message = _choose(browser, "retry", [parked[0].pk])
    _shot(browser, "3-after-retry")
    assert "1 parked event(s) retried." in message
    message = _choose(browser, "skip", [parked[1].pk])
    _shot(browser, "4-after-skip")
    assert "1 parked event(s) skipped." in message

    statuses = list(ParkedEvent.objects.order_by("id").values_list("status", flat=True))
    assert statuses == ["retried", "skipped"]
    assert len(applied("default", "test.all")) == 11  # 12 events, one skipped

    browser.get(f"{live_server.url}{_change_url(parked[0])}")
    _shot(browser, "5-parked-event")
    assert browser.find_element(By.TAG_NAME, "h1").text == "View parked event"
    assert not browser.find_elements(By.NAME, "_save")
    traceback = browser.find_element(By.CSS_SELECTOR, "pre.eventhex-traceback").text
    assert traceback.startswith("Traceback (most recent call last):\n")
    assert traceback.rstrip().endswith("RuntimeError: cannot project item item-3")

    browser.get(f"{live_server.url}/admin/eventhex_projections/projectionstate/")
    assert _rows(browser)["test.all"][-1] == "0"
    _shot(browser, "6-projections-after")
