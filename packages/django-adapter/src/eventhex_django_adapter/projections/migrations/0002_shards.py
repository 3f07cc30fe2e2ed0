"""Shards and versions of projections (issue 30): each row is one shard of one version."""

from typing import Any

from django.db import migrations, models


def _name_old_rows(apps: Any, schema_editor: Any) -> None:
    rows = apps.get_model("eventhex_projections", "ProjectionState")
    rows.objects.using(schema_editor.connection.alias).filter(projection="").update(
        projection=models.F("name")
    )


class Migration(migrations.Migration):

    dependencies = [
        ("eventhex_projections", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="projectionstate",
            name="projection",
            field=models.CharField(blank=True, db_index=True, default="", max_length=255),
        ),
        migrations.AddField(
            model_name="projectionstate",
            name="version",
            field=models.IntegerField(default=1),
        ),
        migrations.AddField(
            model_name="projectionstate",
            name="shard",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="projectionstate",
            name="shards",
            field=models.IntegerField(default=1),
        ),
        migrations.AddField(
            model_name="projectionstate",
            name="caught_up_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="projectionstate",
            name="state",
            field=models.CharField(
                choices=[
                    ("running", "running"),
                    ("stopped", "stopped"),
                    ("rebuilding", "rebuilding"),
                    ("retired", "retired"),
                ],
                default="running",
                max_length=16,
            ),
        ),
        migrations.RunPython(_name_old_rows, migrations.RunPython.noop),
    ]
