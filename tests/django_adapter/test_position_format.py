"""Positions as people read them: ``tx_id:event id``, never a 23-digit integer."""

from eventhex_django_adapter._codec import encode, format_position


def test_a_postgresql_position_reads_as_its_transaction_and_event() -> None:
    assert format_position(encode(725, 1234)) == "725:1234"


def test_small_positions_and_the_start_read_as_plain_numbers() -> None:
    assert format_position(1234) == "1234"
    assert format_position(0) == "0"
    assert format_position(None) == "0"
