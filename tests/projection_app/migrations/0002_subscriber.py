from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("projection_app", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="Subscriber",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("email", models.CharField(max_length=255, unique=True)),
            ],
        ),
    ]
