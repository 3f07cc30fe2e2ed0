"""Prometheus metrics: applied and parked counters, lag, parked and ownership gauges."""

import urllib.request
from typing import Any

import pytest

from eventhex_django_adapter.projections import load_projections, projection_statuses
from eventhex_django_adapter.projections.metrics import PrometheusProjectionMetrics
from tests._ops_http_flood import get, idle_connections, server_threads
from tests.django_adapter.projections.conftest import append_events, backend_for, running
from tests.django_adapter.projections.test_failures import parked
from tests.projection_app.projections import AllEvents
from tests.reliability._report import report
from tests.waiting import wait_for

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
APPLIED = 'eventhex_projection_applied_total{projection="test.all"}'

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
        # The runner counts a batch once its checkpoint has committed, so just after the
        # checkpoint a reader can see the lag at 0 and the counter one batch behind.
        wait_for(lambda: _value(metrics.exposition().decode(), APPLIED) >= 10, "applied counted")
        live = metrics.exposition().decode()
    append_events(backend, 5, start=12)
    after = metrics.exposition().decode()

    assert _value(live, APPLIED) == 10
    assert _value(live, 'eventhex_projection_parked_total{projection="test.all"}') == 2
    # The whole batch's try, then three tries of each of the two failing events:
    failures = 'eventhex_projection_handler_failures_total{projection="test.all"}'
    assert _value(live, failures) == 1 + 3 + 3
    assert _value(live, 'eventhex_projection_owned{projection="test.all"}') == 1
    assert _value(live, 'eventhex_projection_parked_events{projection="test.all"}') == 2
    assert _value(live, 'eventhex_projection_lag_events{projection="test.all"}') == 0
    assert _value(live, 'eventhex_projection_failing{projection="test.all"}') == 0  # went on
    assert _value(after, 'eventhex_projection_owned{projection="test.all"}') == 0
    assert _value(after, 'eventhex_projection_lag_events{projection="test.all"}') == 5
    assert _value(after, 'eventhex_projection_lag_seconds{projection="test.all"}') >= 0


def test_a_projection_retrying_an_event_is_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AllEvents, "retry_delay", 30.0)  # stays in its first wait
    AllEvents.fail_on = {"item-1"}
    backend = backend_for("default")
    projections = load_projections(["test.all"])
    metrics = PrometheusProjectionMetrics(lambda: projection_statuses(backend, projections))
    append_events(backend, 3)

    with running(backend, projections, metrics=metrics):
        wait_for(lambda: projection_statuses(backend, projections)[0].last_error != "", "a try")
        body = metrics.exposition().decode()

    assert _value(body, 'eventhex_projection_failing{projection="test.all"}') == 1
    assert _value(body, 'eventhex_projection_stopped{projection="test.all"}') == 0


def test_metrics_are_served_over_http() -> None:
    backend = backend_for("default")
    projections = load_projections(["test.cart"])
    metrics = PrometheusProjectionMetrics(lambda: projection_statuses(backend, projections))
    metrics.serve(0)
    try:
        assert metrics.port is not None
        url = f"http://127.0.0.1:{metrics.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read().decode()
        assert 'eventhex_projection_lag_events{projection="test.cart"} 0.0' in body
        status, open_metrics = get(metrics.port, "/metrics", accept=OPENMETRICS)
        assert status == 200
        assert open_metrics.rstrip().endswith(b"# EOF")
    finally:
        metrics.close()


def test_scrapes_read_the_database_once_per_interval_and_idle_connections_cost_nothing() -> None:
    """The stock server once kept a thread per idle connection (300 left 303 threads) and ran
    the status queries at every scrape."""
    report.tried("projection metrics: 300 idle connections and scrape floods")
    backend = backend_for("default")
    projections = load_projections(["test.cart"])
    reads = []

    def statuses() -> list[Any]:
        reads.append(1)
        return projection_statuses(backend, projections)

    metrics = PrometheusProjectionMetrics(statuses, scrape_cache_seconds=3600)
    metrics.serve(0)
    try:
        port = metrics.port
        assert port is not None
        with idle_connections(port, 300):
            assert server_threads("eventhex-projection-metrics") <= 3
            for _ in range(30):
                status, body = get(port, "/metrics")
                assert status == 200
                assert b'eventhex_projection_lag_events{projection="test.cart"}' in body
            assert server_threads("eventhex-projection-metrics") <= 3
        assert len(reads) == 1
    finally:
        metrics.close()
    report.handled("projection metrics: 300 idle connections and scrape floods")
