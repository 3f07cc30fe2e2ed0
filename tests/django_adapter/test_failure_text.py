"""The text eventhex stores for a failure: code locations and exception types, the database's
primary message and identifiers, never row values (DETAIL), and no messages at all for events
with encrypted fields (ADR 0017)."""

import pytest
from django.db import IntegrityError, transaction

from eventhex_django_adapter._failure_text import WITHHELD, failure_line, failure_text
from tests.projection_app.models import Subscriber

EMAIL = "alice@example.com"


def _duplicate_email(alias: str) -> IntegrityError:
    Subscriber.objects.using(alias).create(email=EMAIL)
    try:
        with transaction.atomic(using=alias):
            Subscriber.objects.using(alias).create(email=EMAIL)
    except IntegrityError as error:
        return error
    raise AssertionError("the unique e-mail was not enforced")


@pytest.mark.django_db(databases=["postgres"])
@pytest.mark.postgres
@pytest.mark.parametrize("keep_messages", [True, False])
def test_a_postgres_error_keeps_its_names_and_never_its_detail(keep_messages: bool) -> None:
    error = _duplicate_email("postgres")
    assert EMAIL in str(error)  # what used to be stored: "DETAIL:  Key (email)=(...)"

    text = failure_text(error, keep_messages)

    assert EMAIL not in text
    assert "DETAIL" not in text
    last = text.strip().splitlines()[-1]
    assert last.startswith("django.db.utils.IntegrityError: ")
    assert 'table "projection_app_subscriber"' in last
    assert 'constraint "projection_app_subscriber_email_key"' in last
    assert "SQLSTATE 23505" in last
    assert ("duplicate key value violates unique constraint" in last) is keep_messages
    assert "The above exception was the direct cause" in text  # psycopg's error, then Django's
    assert "psycopg.errors.UniqueViolation: " in text
    assert EMAIL not in failure_line(error, keep_messages)


@pytest.mark.django_db(databases=["default"])
def test_a_sqlite_error_has_no_detail_but_is_withheld_with_the_other_messages() -> None:
    error = _duplicate_email("default")
    assert failure_line(error, keep_messages=True) == (
        "IntegrityError: UNIQUE constraint failed: projection_app_subscriber.email"
    )
    assert failure_line(error, keep_messages=False) == f"IntegrityError: {WITHHELD}"


def _raise_chain() -> BaseException:
    try:
        try:
            raise KeyError(EMAIL)
        except KeyError as inner:
            raise ValueError(f"no subscriber {EMAIL}") from inner
    except ValueError:
        try:
            raise RuntimeError(f"while handling {EMAIL}")
        except RuntimeError as error:
            return error


def test_messages_are_withheld_along_the_whole_chain() -> None:
    text = failure_text(_raise_chain(), keep_messages=False)

    assert EMAIL not in text
    assert text.count(WITHHELD) == 3
    assert "The above exception was the direct cause" in text
    assert "During handling of the above exception" in text
    assert text.strip().splitlines()[-1] == f"RuntimeError: {WITHHELD}"
    assert "_raise_chain" in text  # where it happened is still there


def test_messages_are_kept_for_events_without_encrypted_fields() -> None:
    text = failure_text(_raise_chain(), keep_messages=True)

    assert f"KeyError: '{EMAIL}'" in text
    assert text.strip().splitlines()[-1] == f"RuntimeError: while handling {EMAIL}"
    assert failure_line(ConnectionError("broker down"), True) == "ConnectionError: broker down"
