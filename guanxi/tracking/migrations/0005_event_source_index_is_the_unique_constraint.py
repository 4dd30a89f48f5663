"""Events lose Django's own index on `source`: the unique (source, message id) constraint
starts with the same column and serves the same look-ups, and every index costs unpacking its
upkeep per event."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0004_landed_batches"),
    ]

    operations = [
        migrations.AlterField(
            model_name="landedevent",
            name="source",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="events", to="tracking.source"
            ),
        ),
    ]
