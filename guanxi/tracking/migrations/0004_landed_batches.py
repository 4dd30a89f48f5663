"""Requests land as one `LandedBatch` row each, unpacked into events by processing.

On PostgreSQL the batch text is compressed with LZ4 where the server has it: PostgreSQL's own
pglz took about twice as long for a 37 KB batch, on the request's time (a column setting only;
the data stays readable either way).

Backward, the table is dropped: that would lose the messages of batches not unpacked yet, so the
migration stops and asks for them to be processed first.
"""

from typing import Any

import django.db.models.deletion
from django.db import DatabaseError, migrations, models, transaction


def refuse_pending_batches(apps: Any, schema_editor: Any) -> None:
    batches = apps.get_model("tracking", "LandedBatch")
    if batches.objects.using(schema_editor.connection.alias).exists():
        raise RuntimeError(
            "Some landed batches are not unpacked yet: run `manage.py process_events`, then migrate back again."
        )


def _set_compression(schema_editor: Any, method: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias), schema_editor.connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE tracking_landedbatch ALTER COLUMN messages SET COMPRESSION {method}")
    except DatabaseError:
        return  # a server built without LZ4 keeps its default, which works


def compress_with_lz4(apps: Any, schema_editor: Any) -> None:
    _set_compression(schema_editor, "lz4")


def compress_with_default(apps: Any, schema_editor: Any) -> None:
    _set_compression(schema_editor, "default")


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
        migrations.RunPython(compress_with_lz4, compress_with_default),
    ]
