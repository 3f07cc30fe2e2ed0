"""Kafka topic names are injective over (tenant, category): no two pairs share a topic.

Per-tenant topics are how operators grant per-tenant ACLs, so a shared topic leaks one tenant's
events to another. The property tests read each pair back from its topic (a left inverse proves
injectivity) over ids drawn from a small hostile alphabet (so that near-collisions are likely)
and from any text the input rules allow.
"""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventhex_outbox_relay.publishers._names import (
    MAX_TOPIC,
    TOPIC_DIGEST_MARK,
    TopicTemplate,
    topic_part,
    topic_part_id,
)
from tests.reliability._report import ReliabilityReport

LEGAL = set(string.ascii_letters + string.digits + "._-")
TEMPLATES = [
    "events.{tenant}.{category}",
    "{category}.{tenant}",
    "{tenant}_x.y-{category}z",
    "t.{tenant}.{category}.{tenant}",
]
HOSTILE = st.text(alphabet="_.a-1 %é\n~h", max_size=8)
ANY_ID = st.text(
    alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=255
)
"""Any id the input rules accept (no NUL, no lone surrogate: neither can be stored)."""


def _read_back(template: str, topic: str) -> dict[str, str]:
    """The ids a topic of ``template`` was rendered from (digests stay digests)."""
    pattern = re.escape(template)
    for field in ("tenant", "category"):
        escaped = re.escape("{" + field + "}")
        pattern = pattern.replace(escaped, f"(?P<{field}>[^.]*)", 1)
        pattern = pattern.replace(escaped, f"(?P={field})")
    match = re.fullmatch(pattern, topic)
    assert match is not None, (template, topic)
    return {
        name: part if part.startswith(TOPIC_DIGEST_MARK) else topic_part_id(part)
        for name, part in match.groupdict().items()
    }


def _check(template: TopicTemplate, tenant: str, category: str) -> None:
    topic = template.render(tenant, category)
    assert set(topic) <= LEGAL
    assert 0 < len(topic) <= MAX_TOPIC
    assert topic not in (".", "..")
    back = _read_back(template.template, topic)
    if not back["tenant"].startswith(TOPIC_DIGEST_MARK):
        assert back["tenant"] == tenant
    if not back["category"].startswith(TOPIC_DIGEST_MARK):
        assert back["category"] == category


@pytest.mark.parametrize("template", TEMPLATES)
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tenant=HOSTILE, category=HOSTILE)
def test_every_pair_reads_back_from_its_topic(template: str, tenant: str, category: str) -> None:
    _check(TopicTemplate(template), tenant, category)


@settings(max_examples=200)
@given(tenant=ANY_ID, category=ANY_ID)
def test_any_ids_make_a_legal_topic_that_reads_back(tenant: str, category: str) -> None:
    _check(TopicTemplate("events.{tenant}.{category}"), tenant, category)


@settings(max_examples=500)
@given(first=st.tuples(HOSTILE, HOSTILE), second=st.tuples(HOSTILE, HOSTILE))
def test_two_pairs_share_a_topic_only_when_equal(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    template = TopicTemplate("events.{tenant}.{category}")
    assert (template.render(*first) == template.render(*second)) == (first == second)


def test_the_reported_collisions_are_gone(reliability: ReliabilityReport) -> None:
    """Issue 27: tenant '' and '_'; a plain id equal to another's sanitised form plus digest;
    a '.' in an id against the template's '.'."""
    template = TopicTemplate("events.{tenant}.{category}")
    pairs = [
        (("", "orders"), ("_", "orders")),
        (("acme corp", "orders"), ("acme_corp-ea6f9c07", "orders")),
        (("acme.eu", "orders"), ("acme", "eu.orders")),
    ]
    for first, second in pairs:
        reliability.tried("kafka topic collision")
        assert template.render(*first) != template.render(*second)
        reliability.handled("kafka topic collision")
    assert template.render("", "orders") == "events._.orders"
    assert template.render("_", "orders") == "events._5f.orders"
    assert template.render("acme.eu", "orders") == "events.acme_2eeu.orders"
    assert template.render("acme", "eu.orders") == "events.acme.eu_2eorders"
    assert template.render("acme-corp", "orders") == "events.acme-corp.orders"  # plain: as is


def test_long_ids_become_digests_that_no_escaped_id_meets() -> None:
    template = TopicTemplate("events.{tenant}.{category}")
    long = "ł" * 255  # 1,530 characters escaped
    topic = template.render("acme", long)
    assert len(topic) <= MAX_TOPIC
    assert topic.startswith("events.acme." + TOPIC_DIGEST_MARK)
    assert topic != template.render("acme", long[:-1])
    assert template.render("acme", "x" * 200) == "events.acme." + "x" * 200  # fits: kept
    assert not any(topic_part(text).startswith(TOPIC_DIGEST_MARK) for text in ["_h", "h", "_"])


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{tenant}{category}", "no '.' between {tenant} and {category}"),
        ("events.{tenant}-{category}", "no '.' between"),
        ("events.{tenant}_{tenant}", "no '.' between"),
        ("x" * 200 + ".{tenant}.{category}", "too long"),
        ("events.{stream}", "unknown placeholder"),
    ],
)
def test_a_template_that_cannot_be_injective_is_refused(
    template: str, reason: str, reliability: ReliabilityReport
) -> None:
    reliability.tried("kafka topic template not injective")
    with pytest.raises(ValueError) as raised:
        TopicTemplate(template)
    assert reason in str(raised.value)
    reliability.handled("kafka topic template not injective")
