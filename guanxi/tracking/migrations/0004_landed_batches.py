"""Requests land as one `LandedBatch` row each, unpacked into events by processing.

Backward, the table is dropped: that would lose the messages of batches not unpacked yet, so the
migration stops and asks for them to be processed first.
"""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models


def refuse_pending_batches(apps: Any, schema_editor: Any) -> None:
    batches = apps.get_model("tracking", "LandedBatch")
    if batches.objects.using(schema_editor.connection.alias).exists():
        raise RuntimeError(
            "Some landed batches are not unpacked yet: run `manage.py process_events`, then migrate back again."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0003_processed_watermark_instead_of_event_marks"),
    ]

    operations = [
        migrations.CreateModel(
            name="LandedBatch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("received_at", models.DateTimeField(verbose_name="received")),
                ("message_count", models.PositiveIntegerField(verbose_name="messages")),
                ("messages", models.TextField(verbose_name="messages")),
                (
                    "source",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="landed_batches",
                        to="tracking.source",
                    ),
                ),
            ],
            options={
                "verbose_name": "landed batch",
                "verbose_name_plural": "landed batches",
            },
        ),
        migrations.RunPython(migrations.RunPython.noop, refuse_pending_batches),
    ]
