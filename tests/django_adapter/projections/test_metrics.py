"""Prometheus metrics: applied and parked counters, lag, parked and ownership gauges."""

import urllib.request

import pytest

from eventhex_django_adapter.projections import load_projections, projection_statuses
from eventhex_django_adapter.projections.metrics import PrometheusProjectionMetrics
from tests.django_adapter.projections.conftest import (
    append_events,
    backend_for,
    running,
)
from tests.django_adapter.projections.test_failures import parked
from tests.projection_app.projections import AllEvents
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(databases=["default"], transaction=True)


def _value(text: str, line_start: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(line_start)]
    return float(line.rsplit(" ", 1)[1])


def test_metrics_count_and_gauge_every_projection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AllEvents, "retry_delay", 0.01)
    monkeypatch.setattr(AllEvents, "on_failure", "park")
    AllEvents.fail_on = {"item-3"}
    backend = backend_for("default")
    projections = load_projections(["test.all", "test.cart"])
    metrics = PrometheusProjectionMetrics(lambda: projection_statuses(backend, projections))
    append_events(backend, 12)

    with running(backend, projections, metrics=metrics):
        wait_for(lambda: len(parked("default")) == 2, "two parked events")
        wait_for(
            lambda: all(s.lag_events == 0 for s in projection_statuses(backend, projections)),
            "catch-up",
        )
        live = metrics.exposition().decode()
    append_events(backend, 5, start=12)
    after = metrics.exposition().decode()

    assert _value(live, 'eventhex_projection_applied_total{projection="test.all"}') == 10
    assert _value(live, 'eventhex_projection_parked_total{projection="test.all"}') == 2
    # The whole batch's try, then three tries of each of the two failing events:
    failures = 'eventhex_projection_handler_failures_total{projection="test.all"}'
    assert _value(live, failures) == 1 + 3 + 3
    assert _value(live, 'eventhex_projection_owned{projection="test.all"}') == 1
    assert _value(live, 'eventhex_projection_parked_events{projection="test.all"}') == 2
    assert _value(live, 'eventhex_projection_lag_events{projection="test.all"}') == 0
    assert _value(after, 'eventhex_projection_owned{projection="test.all"}') == 0
    assert _value(after, 'eventhex_projection_lag_events{projection="test.all"}') == 5
    assert _value(after, 'eventhex_projection_lag_seconds{projection="test.all"}') >= 0


def test_metrics_are_served_over_http() -> None:
    backend = backend_for("default")
    projections = load_projections(["test.cart"])
    metrics = PrometheusProjectionMetrics(lambda: projection_statuses(backend, projections))
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    metrics.serve(port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        body = response.read().decode()
    assert 'eventhex_projection_lag_events{projection="test.cart"} 0.0' in body
