"""Drop the two single-column ``stream_id`` indexes that Django made for the foreign keys.

``eventhex_event_version_uniq (stream_id, version)`` and ``eventhex_snapshot_version_idx
(stream_id, version)`` start with the same column, so they serve every lookup by stream (stream
loads, the admin, deleting a stream's events); the narrower indexes only cost every append an
index entry and its WAL. On PostgreSQL the indexes are dropped ``CONCURRENTLY`` (the migration
is not atomic for that), so appends and reads go on while it runs.
"""

import django.db.models.deletion
from django.db import migrations, models

from eventhex_django_adapter.migration_operations import DropCoveredIndex


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ("eventhex", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="event",
                    name="stream",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="eventhex.stream",
                    ),
                ),
                migrations.AlterField(
                    model_name="snapshot",
                    name="stream",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="snapshots",
                        to="eventhex.stream",
                    ),
                ),
            ],
            database_operations=[
                DropCoveredIndex(
                    "eventhex_event", "eventhex_event_stream_id_f91aafad", ["stream_id"]
                ),
                DropCoveredIndex(
                    "eventhex_snapshot", "eventhex_snapshot_stream_id_6ea69e08", ["stream_id"]
                ),
            ],
        ),
    ]
