"""Processed events are those up to the checkpoint's watermark, no longer a mark on each row.

Forward, the watermark becomes the highest processed id. That is only true if the processed
events are exactly the ids up to it; an unprocessed event below it (one that committed after a
later id was processed) would be skipped for ever, so the migration stops and asks for the
backlog to be processed first. Backward, the events up to the watermark are marked processed
again (at the checkpoint's last run, in no batch) and carry no session: the old code read an
event's session only to re-point it when sessions were joined.
"""

from typing import Any

from django.db import migrations
from django.db.models import Max
from django.utils import timezone


def set_watermark(apps: Any, schema_editor: Any) -> None:
    landed = apps.get_model("tracking", "LandedEvent")
    checkpoint_model = apps.get_model("tracking", "ProcessingCheckpoint")
    db = schema_editor.connection.alias
    highest = landed.objects.using(db).filter(processed_at__isnull=False).aggregate(m=Max("id"))["m"]
    if highest is None:
        checkpoint_model.objects.using(db).filter(name="default").update(last_event_id=0)
        return
    if landed.objects.using(db).filter(processed_at__isnull=True, id__lt=highest).exists():
        raise RuntimeError(
            "Some landed events below the last processed one are not processed yet: run "
            "`manage.py process_events` with the previous version, then migrate again."
        )
    checkpoint, _created = checkpoint_model.objects.using(db).get_or_create(name="default")
    checkpoint.last_event_id = highest
    checkpoint.save(update_fields=["last_event_id"])


def restore_marks(apps: Any, schema_editor: Any) -> None:
    landed = apps.get_model("tracking", "LandedEvent")
    checkpoint_model = apps.get_model("tracking", "ProcessingCheckpoint")
    db = schema_editor.connection.alias
    checkpoint = checkpoint_model.objects.using(db).filter(name="default").first()
    if checkpoint is None or not checkpoint.last_event_id:
        return
    at = checkpoint.last_run_at or timezone.now()
    landed.objects.using(db).filter(id__lte=checkpoint.last_event_id).update(processed_at=at)


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0002_sessions_traits_plans"),
    ]

    operations = [
        migrations.RunPython(set_watermark, restore_marks),
        migrations.RemoveIndex(
            model_name="landedevent",
            name="trk_event_unprocessed_idx",
        ),
        migrations.RemoveIndex(
            model_name="landedevent",
            name="trk_event_session_idx",
        ),
        migrations.RemoveField(
            model_name="landedevent",
            name="processed_at",
        ),
        migrations.RemoveField(
            model_name="landedevent",
            name="processing_batch",
        ),
        migrations.RemoveField(
            model_name="landedevent",
            name="session",
        ),
    ]
