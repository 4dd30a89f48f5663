"""Shared building blocks that know no domain: tags, custom attribute definitions, history."""

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _


class Tag(models.Model):
    """A free label staff put on records; shared across record types so one word means one tag."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    color = models.CharField(_("colour"), max_length=7, default="#6b7280")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class AttributeType(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    CHOICE = "choice", _("Choice")


class AttributeDefinition(models.Model):
    """An admin-defined custom attribute; values live in the record's `attributes` JSON by `key`."""

    target = models.CharField(_("record type"), max_length=32)
    key = models.SlugField(_("key"), max_length=64)
    label = models.CharField(_("label"), max_length=100)
    data_type = models.CharField(_("type"), max_length=10, choices=AttributeType.choices)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=False)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["target", "position", "key"]
        constraints = [models.UniqueConstraint(fields=["target", "key"], name="core_attribute_unique_key")]
        verbose_name = _("custom attribute")
        verbose_name_plural = _("custom attributes")

    def __str__(self) -> str:
        return f"{self.target}.{self.key}"


class ChangeAction(models.TextChoices):
    CREATE = "create", _("Created")
    UPDATE = "update", _("Updated")
    DELETE = "delete", _("Deleted")


class ChangeRecord(models.Model):
    """Who changed what and when, field by field, for any record.

    Kept generic (content type + id) so a merge can move a record's history to the survivor
    by updating two columns, and so every app records history the same way.
    """

    # Indexed only as the first column of (content_type, object_id, -at), which serves its lookups.
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, db_index=False)
    object_id = models.BigIntegerField()
    action = models.CharField(max_length=16, choices=ChangeAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    changes: models.JSONField[dict[str, Any]] = models.JSONField(default=dict)
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = _("history entry")
        verbose_name_plural = _("history entries")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "-at"], name="core_change_object_idx")]

    def __str__(self) -> str:
        return f"{self.action} {self.content_type_id}:{self.object_id} at {self.at:%Y-%m-%d %H:%M}"


class ScheduleMark(models.Model):
    """When a periodic job (`core/schedule.py`) was last queued: one row per job name.

    A row, not memory, so a restart does not rerun a nightly job and two processes running the
    scheduler queue each job once (the claim is a conditional UPDATE).
    """

    name = models.CharField(max_length=100, unique=True)
    last_queued_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.last_queued_at:%Y-%m-%d %H:%M}"
