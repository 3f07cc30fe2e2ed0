"""The eventhex schema: its tables, then (PostgreSQL only) its SQL functions and triggers.

The SQL is in ``sql/0001/*.sql`` and ``manage.py sqlmigrate eventhex 0001`` prints all of it:

* ``position_clock.sql``: the ``tx_id`` stamp and the shift that keeps positions growing after a
  move to another cluster (ADR 0003, ADR 0010);
* ``notify.sql``: the wake-ups of subscribers and relays, skipped by quiet appends;
* ``outbox_due.sql``: the outbox claim (ADR 0006, ADR 0014);
* ``reads.sql``: stream loads and subscription pages with fixed plans (ADR 0015);
* ``uuids_stored.sql``: the append's duplicate-uuid check;
* ``event_names.sql``: the distinct stored event names by a loose index scan.

The migration ends by checking the position clock, so a database restored on another cluster
before it ran is rebased by ``migrate`` itself. SQLite needs none of the SQL: there, ids order
events and subscribers poll.
"""

import django.db.models.deletion
from django.db import migrations, models

from eventhex_django_adapter.migration_operations import RunPostgreSQL, sql_file

SQL_FILES = [
    "0001/position_clock.sql",
    "0001/notify.sql",
    "0001/outbox_due.sql",
    "0001/reads.sql",
    "0001/uuids_stored.sql",
    "0001/event_names.sql",
]


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='EncryptionKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('tenant_id', models.CharField(blank=True, default='', max_length=255)),
                ('subject_id', models.CharField(max_length=255)),
                ('key', models.BinaryField()),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('tenant_id', 'subject_id'), name='eventhex_key_subject_uniq')],
            },
        ),
        migrations.CreateModel(
            name='OutboxEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event_uuid', models.UUIDField()),
                ('event_name', models.CharField(max_length=255)),
                ('stream_uuid', models.UUIDField()),
                ('stream_name', models.CharField(blank=True, max_length=255, null=True)),
                ('stream_category', models.CharField(blank=True, default='', max_length=255)),
                ('tenant_id', models.CharField(blank=True, default='', max_length=255)),
                ('version', models.IntegerField(blank=True, null=True)),
                ('position', models.DecimalField(decimal_places=0, max_digits=40)),
                ('created_at', models.DateTimeField()),
                ('data', models.JSONField()),
                ('context', models.JSONField()),
                ('attempts', models.IntegerField(default=0)),
                ('max_attempts', models.IntegerField()),
                ('dead', models.BooleanField(default=False)),
                ('last_error', models.TextField(blank=True, default='')),
                ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                ('claimed_by', models.CharField(blank=True, max_length=255, null=True)),
                ('claimed_until', models.DateTimeField(blank=True, null=True)),
                ('enqueued_at', models.DateTimeField()),
            ],
            options={
                'verbose_name_plural': 'outbox entries',
                'indexes': [models.Index(condition=models.Q(('claimed_until__isnull', True), ('dead', False), ('next_attempt_at__isnull', True)), fields=['id'], name='eventhex_outbox_fresh_idx'), models.Index(condition=models.Q(('dead', False), models.Q(('next_attempt_at__isnull', False), ('claimed_until__isnull', False), _connector='OR')), fields=['id'], name='eventhex_outbox_retry_idx')],
            },
        ),
        migrations.CreateModel(
            name='ProjectionCursor',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=255)),
                ('stream_uuid', models.UUIDField()),
                ('category', models.CharField(blank=True, default='', max_length=255)),
                ('version', models.BigIntegerField()),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('name', 'stream_uuid', 'category'), name='eventhex_cursor_uniq')],
            },
        ),
        migrations.CreateModel(
            name='Stream',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('uuid', models.UUIDField()),
                ('name', models.CharField(blank=True, max_length=255, null=True)),
                ('category', models.CharField(blank=True, default='', max_length=255)),
                ('tenant_id', models.CharField(blank=True, default='', max_length=255)),
                ('version', models.BigIntegerField(blank=True, null=True)),
            ],
            options={
                'indexes': [models.Index(fields=['name'], name='eventhex_stream_name_idx', opclasses=['varchar_pattern_ops']), models.Index(fields=['uuid'], name='eventhex_stream_uuid_idx')],
                'constraints': [models.UniqueConstraint(fields=('tenant_id', 'category', 'uuid'), name='eventhex_stream_uuid_uniq'), models.UniqueConstraint(condition=models.Q(('name__isnull', False)), fields=('tenant_id', 'category', 'name'), name='eventhex_stream_name_uniq')],
            },
        ),
        migrations.CreateModel(
            name='Snapshot',
            fields=[
                ('uuid', models.UUIDField(primary_key=True, serialize=False)),
                ('version', models.IntegerField()),
                ('name', models.CharField(max_length=255)),
                ('data', models.JSONField()),
                ('context', models.JSONField()),
                ('created_at', models.DateTimeField()),
                ('stream', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='snapshots', to='eventhex.stream')),
            ],
            options={
                'indexes': [models.Index(fields=['stream', 'version'], name='eventhex_snapshot_version_idx')],
            },
        ),
        migrations.CreateModel(
            name='Event',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('version', models.IntegerField(blank=True, null=True)),
                ('uuid', models.UUIDField(unique=True)),
                ('name', models.CharField(max_length=255)),
                ('data', models.JSONField()),
                ('context', models.JSONField()),
                ('created_at', models.DateTimeField()),
                ('category', models.CharField(blank=True, default='', max_length=255)),
                ('tenant_id', models.CharField(blank=True, default='', max_length=255)),
                ('tx_id', models.BigIntegerField(blank=True, null=True)),
                ('stream', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='eventhex.stream')),
            ],
            options={
                'indexes': [models.Index(fields=['tx_id', 'id'], name='eventhex_event_tx_idx'), models.Index(fields=['category', 'tx_id', 'id'], name='eventhex_event_category_idx'), models.Index(fields=['name', 'tx_id', 'id'], name='eventhex_event_name_idx')],
                'constraints': [models.UniqueConstraint(fields=('stream', 'version'), name='eventhex_event_version_uniq')],
            },
        ),
        RunPostgreSQL(
            [sql_file(path) for path in SQL_FILES] + ["SELECT eventhex_check_positions();"],
            reverse_sql=[sql_file("0001/drop.sql")],
        ),
    ]
