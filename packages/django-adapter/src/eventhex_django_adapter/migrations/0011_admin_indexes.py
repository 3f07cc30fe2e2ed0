"""Indexes for the admin's searches: streams by name (exact or prefix) and by uuid.

The admin finds the events of a stream through its stream: by the stream's uuid, or by the
start of its name (``LIKE 'name%'``, which a plain index serves only under the C collation,
hence ``varchar_pattern_ops`` on PostgreSQL; SQLite ignores operator classes and searches a
range of the plain index). The unique indexes on streams lead with tenant and category, so
neither lookup could use them.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("eventhex", "0010_quiet_appends")]

    operations = [
        migrations.AddIndex(
            model_name="stream",
            index=models.Index(
                fields=["name"], name="eventhex_stream_name_idx", opclasses=["varchar_pattern_ops"]
            ),
        ),
        migrations.AddIndex(
            model_name="stream",
            index=models.Index(fields=["uuid"], name="eventhex_stream_uuid_idx"),
        ),
    ]
