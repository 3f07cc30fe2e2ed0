"""``DjangoConfig``: how a ``DjangoBackend`` uses the database."""

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationInfo, field_validator

from eventhex_core_ports._internal.validation import (
    DEFAULT_MAX_APPEND_BYTES,
    DEFAULT_MAX_APPEND_EVENTS,
    DEFAULT_MAX_EVENT_BYTES,
)

__all__ = ["DjangoConfig"]


class DjangoConfig(BaseModel):
    """Settings of a ``DjangoBackend``, validated once when the backend is configured.

    Unknown fields are rejected and the model is frozen: build a new one to change a value.
    ``DjangoBackend().configure()`` without an argument uses ``DjangoConfig()``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    outbox_attempts: PositiveInt = 3
    """How many times an outbox entry is handed out for publishing before it is marked dead.

    Every publish that raises uses one attempt; after the last one the entry stays in the outbox
    table with ``dead=True`` (visible in the admin) and is no longer handed out. Recorded on each
    entry when it is written, so changing it affects new entries only.
    """

    gap_retry_interval: timedelta = Field(default=timedelta(seconds=0.5))
    """The longest a subscription waits before looking at the database again when it has nothing
    new to read and no wake-up arrived.

    A subscription never waits while readable events are there: it returns them at once. When
    it has caught up, on PostgreSQL it sleeps until a ``LISTEN/NOTIFY`` wake-up, sent when an
    appending transaction commits, and re-polls after this interval only as a fallback (for
    example when a notification was lost, or when an older transaction has not committed yet so
    the events after it are not readable). On SQLite, which has no notifications, a caught-up
    subscription polls, backing off from 5 ms up to this interval. Smaller values shorten the
    worst-case delay of the fallback at the cost of more queries while idle. It never delays
    delivery of readable events, and a subscription's ``timelimit`` still bounds one batch.
    """

    database: str = "default"
    """The alias in ``settings.DATABASES`` that holds the eventhex tables.

    Every read and write of this backend goes to this alias (appends join a transaction opened
    with ``transaction.atomic(using=alias)``). ``DjangoBackend.configure`` rejects an alias that
    does not exist; route the ``eventhex`` app's migrations to the same database.
    """

    subscription_database: str | None = None
    """The alias subscriptions read from (default: ``database``), typically a hot standby.

    Subscriptions (``build_iter``, ``build_batch``, categories, event types) and the projection
    runner's reads come from this alias; appends, stream loads, snapshots, the outbox,
    checkpoints and read-model writes stay on ``database``. A PostgreSQL streaming replica
    serves the same events at the same positions, gap-free and in commit order, as the primary
    does: positions are transaction ids, which physical replication keeps. A replica cannot
    ``LISTEN``, so a caught-up subscription listens on ``database`` and, on a wake-up, waits
    until the replica has replayed the primary's WAL up to that point (polling every
    ``gap_retry_interval`` stays the fallback). Delivery is as late as the replica's replay
    lag, which ``manage.py eventhex_status`` and ``eventhex_projections status`` report. A
    subscription never sees its own transaction's uncommitted events on a replica. See
    ``docs/operations.md`` (replicas and failover).
    """

    replica_lag_warning_after: timedelta = Field(default=timedelta(seconds=10))
    """How long a subscription waits for the replica to replay a notified commit before it
    logs an error naming the replica and how far behind it is (it keeps waiting: nothing is
    skipped, delivery is only late)."""

    max_event_bytes: PositiveInt = DEFAULT_MAX_EVENT_BYTES
    """The largest event an append or snapshot accepts, in bytes (default 1 MiB).

    Measured as the compact UTF-8 JSON of the event's data plus that of its context. A larger
    event raises ``EventTooLarge`` (a ``ValueError``) naming the event and its size, and nothing
    of the append is written. Keep big content (files, documents) outside the event store and
    put a reference in the event.
    """

    max_append_bytes: PositiveInt = DEFAULT_MAX_APPEND_BYTES
    """The most payload one append accepts, all its events together, in bytes (default 64 MiB).

    Measured like ``max_event_bytes``. A larger append raises ``AppendTooLarge`` (a
    ``ValueError``) before anything is sent to the database, and nothing is written. PostgreSQL
    cannot take more than 256 MiB of JSON in one append.
    """

    max_append_events: PositiveInt = DEFAULT_MAX_APPEND_EVENTS
    """The most events one append accepts (default 10,000); more raise ``AppendTooLarge``."""

    prepared_statements: bool = True
    """Let psycopg 3 prepare the adapter's own statements on each connection (default on).

    Appends, stream loads, subscription reads and outbox claims are a few long statements run
    constantly; preparing them skips their planning on every call, whatever the database
    ``OPTIONS`` say (the project's own queries keep Django's behaviour). Turn it off behind a
    connection pooler that cannot keep prepared statements (PgBouncer in transaction mode
    before 1.21, or with ``max_prepared_statements = 0``). Left on there, the first lost
    statement turns preparing off on that database for the process: a statement outside a
    transaction is run again unprepared, one inside raises ``PreparedStatementsUnavailable``,
    whose message says so. No effect with psycopg2 or SQLite.
    """

    notifications: bool = True
    """Wake subscribers and relays up on every append (PostgreSQL; default on).

    Each appending transaction sends a ``LISTEN/NOTIFY`` notification at commit, so a caught-up
    subscriber or relay reads new events within milliseconds. PostgreSQL serializes the commits
    of transactions that notified; with many processes appending at once that costs throughput
    (``benchmarks/RESULTS.md``, concurrent writers). With ``False`` this backend's appends send
    none (outbox entries included), and subscribers and relays find the events when they next
    poll: within ``gap_retry_interval`` for a subscriber, within its poll interval for a relay.
    Only those appends are silent: other backends and processes keep notifying, also in the
    same transaction as a quiet append. No effect on SQLite, which has no notifications.
    """

    subscription_reconnect_timeout: timedelta = Field(default=timedelta(seconds=30))
    """How long a subscription keeps trying to reconnect after its database connection dies.

    A subscription that reads outside a transaction and loses its connection (the server
    restarted, the backend was terminated, the network dropped) closes it and reads again from
    its last delivered position on a new connection, retrying with backoff from 50 ms to 1 s;
    no event is skipped or delivered twice. If the database stays unreachable for longer than
    this, the iterator raises the database error; build a new subscription from the last
    position you processed to carry on. ``timedelta(0)`` raises at once. A subscription read
    inside ``transaction.atomic`` never reconnects: the transaction is gone, so it raises.
    """

    long_transaction_warning_after: timedelta = Field(default=timedelta(seconds=5))
    """How long a running transaction may hold subscriptions back before it is reported.

    On PostgreSQL a subscription reads no event newer than the oldest running transaction that
    holds a transaction id (see the ordering guarantees). Once such a transaction has held
    committed events back for longer than this, a warning names its backend pid and age and
    ``subscription_lag_blockers()`` lists it, so an operator can find and end it.
    """

    @property
    def read_database(self) -> str:
        """The alias subscriptions read from: ``subscription_database`` or ``database``."""
        return self.subscription_database or self.database

    @field_validator(
        "gap_retry_interval", "long_transaction_warning_after", "replica_lag_warning_after"
    )
    @classmethod
    def _positive_interval(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        if value <= timedelta(0):
            raise ValueError(
                f"{info.field_name} must be a positive duration, got {value!r}; "
                "use for example timedelta(seconds=0.5)"
            )
        return value

    @field_validator("subscription_reconnect_timeout")
    @classmethod
    def _non_negative_timeout(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError(
                f"subscription_reconnect_timeout must not be negative, got {value!r}; use "
                "timedelta(0) to raise at once, or for example timedelta(seconds=30)"
            )
        return value

    @field_validator("database", "subscription_database")
    @classmethod
    def _non_empty_alias(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not value.strip():
            raise ValueError(
                f"{info.field_name} must name an alias from settings.DATABASES, for example "
                "'default'"
            )
        return value
