"""The projections' tables: checkpoints (one row per shard of each version) and parked events.

They keep their ``eventhex_*`` names (``eventhex_projection``, ``eventhex_parked_event``).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('eventhex', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='ProjectionState',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=255, unique=True)),
                ('projection', models.CharField(blank=True, db_index=True, default='', max_length=255)),
                ('version', models.IntegerField(default=1)),
                ('shard', models.IntegerField(default=0)),
                ('shards', models.IntegerField(default=1)),
                ('caught_up_at', models.DateTimeField(blank=True, null=True)),
                ('position', models.DecimalField(decimal_places=0, default=0, max_digits=40)),
                ('last_event_uuid', models.UUIDField(blank=True, null=True)),
                ('last_event_at', models.DateTimeField(blank=True, null=True)),
                ('applied', models.BigIntegerField(default=0)),
                ('state', models.CharField(choices=[('running', 'running'), ('stopped', 'stopped'), ('rebuilding', 'rebuilding'), ('retired', 'retired')], default='running', max_length=16)),
                ('generation', models.BigIntegerField(default=0)),
                ('owner', models.CharField(blank=True, default='', max_length=255)),
                ('lease_until', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True, default='')),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'verbose_name': 'projection',
                'db_table': 'eventhex_projection',
                'ordering': ('name',),
            },
        ),
        migrations.CreateModel(
            name='ParkedEvent',
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
                ('previous_position', models.DecimalField(decimal_places=0, max_digits=40)),
                ('error', models.TextField()),
                ('attempts', models.IntegerField()),
                ('status', models.CharField(choices=[('parked', 'parked'), ('retried', 'retried'), ('skipped', 'skipped')], default='parked', max_length=16)),
                ('parked_at', models.DateTimeField(auto_now_add=True)),
                ('resolved_at', models.DateTimeField(blank=True, null=True)),
                ('projection', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='parked_events', to='eventhex_projections.projectionstate')),
            ],
            options={
                'verbose_name': 'parked event',
                'db_table': 'eventhex_parked_event',
                'ordering': ('id',),
                'indexes': [models.Index(fields=['projection', 'status'], name='eventhex_parked_status_idx')],
                'constraints': [models.UniqueConstraint(fields=('projection', 'event_uuid'), name='eventhex_parked_event_uniq')],
            },
        ),
    ]
