"""Jobs that move customer data in and out, and the record of every merge.

Imports, exports and merges are the riskiest writes a CRM makes; each leaves a row here so a
user can follow its progress, read what happened, download what was rejected, or undo a merge.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Target(models.TextChoices):
    ACCOUNT = "account", _("Accounts")
    PERSON = "person", _("People")
    ORDER = "order", _("Orders")


#: What exports, duplicate searches and merges work on: customer records. Orders are imported
#: only (`commerce` lists and exports them itself), so they never reach those choices.
CUSTOMER_TARGETS = (Target.ACCOUNT, Target.PERSON)
CUSTOMER_TARGET_CHOICES = [(target.value, target.label) for target in CUSTOMER_TARGETS]


class JobStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to start")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class BackgroundJob(models.Model):
    """Progress, outcome and cancellation of a long job, readable after a page reload."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    target = models.CharField(_("record type"), max_length=16, choices=Target.choices)
    status = models.CharField(_("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    total = models.PositiveIntegerField(_("total rows"), default=0)
    processed = models.PositiveIntegerField(_("rows processed"), default=0)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    @property
    def is_finished(self) -> bool:
        return self.status in {JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED}

    @property
    def percent(self) -> int:
        if self.status == JobStatus.DONE:
            return 100
        return int(100 * self.processed / self.total) if self.total else 0


class FileFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"
    VCARD = "vcard", "vCard"


class ImportMode(models.TextChoices):
    ALL_OR_NOTHING = "all_or_nothing", _("All or nothing")
    GOOD_ROWS = "good_rows", _("Import the good rows")


class DuplicatePolicy(models.TextChoices):
    SKIP = "skip", _("Skip the row")
    UPDATE = "update", _("Update the existing record")


class ImportStage(models.TextChoices):
    """Where an import stands, apart from its job status: the user acts between stages."""

    UPLOADED = "uploaded", _("Uploaded")
    MAPPED = "mapped", _("Mapped")
    CHECKED = "checked", _("Checked (dry run)")
    IMPORTED = "imported", _("Imported")


class ImportJob(BackgroundJob):
    """One uploaded file on its way in: upload → mapping → dry run → import."""

    original_name = models.CharField(_("file name"), max_length=255)
    stored_path = models.CharField(max_length=500)  # relative to settings.DATA_DIR; never served directly
    file_format = models.CharField(_("format"), max_length=8, choices=FileFormat.choices)
    encoding = models.CharField(_("encoding"), max_length=32, blank=True)
    columns: models.JSONField[list[str]] = models.JSONField(default=list)
    mapping: models.JSONField[dict[str, str]] = models.JSONField(default=dict)  # column -> field
    mode = models.CharField(_("mode"), max_length=16, choices=ImportMode.choices, default=ImportMode.ALL_OR_NOTHING)
    on_duplicate = models.CharField(
        _("when a record exists"), max_length=8, choices=DuplicatePolicy.choices, default=DuplicatePolicy.SKIP
    )
    stage = models.CharField(_("stage"), max_length=16, choices=ImportStage.choices, default=ImportStage.UPLOADED)
    dry_run = models.BooleanField(default=False)  # whether the current/last run writes nothing
    created_count = models.PositiveIntegerField(_("records created"), default=0)
    updated_count = models.PositiveIntegerField(_("records updated"), default=0)
    skipped_count = models.PositiveIntegerField(_("skipped as duplicates"), default=0)
    rejected_count = models.PositiveIntegerField(_("rejected"), default=0)

    class Meta(BackgroundJob.Meta):
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return f"import {self.pk} {self.original_name}"


class ImportProblem(models.Model):
    """One rejected row of an import: where it is in the file, which column, and why."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="problems")
    line = models.PositiveIntegerField(_("line"))
    column = models.CharField(_("column"), max_length=255, blank=True)
    reason = models.CharField(_("reason"), max_length=500)
    row: models.JSONField[dict[str, Any]] = models.JSONField(default=dict)

    class Meta:
        ordering = ["job", "line", "id"]
        indexes = [models.Index(fields=["job", "line"], name="dataio_problem_line_idx")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class SavedMapping(models.Model):
    """A column → field mapping kept for next time, matched by the file's headers."""

    target = models.CharField(_("record type"), max_length=16, choices=Target.choices)
    name = models.CharField(_("name"), max_length=100)
    mapping: models.JSONField[dict[str, str]] = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["target", "name"]
        constraints = [models.UniqueConstraint(fields=["target", "name"], name="dataio_mapping_unique_name")]
        verbose_name = _("saved mapping")
        verbose_name_plural = _("saved mappings")

    def __str__(self) -> str:
        return self.name


class ExportJob(BackgroundJob):
    """A list, with its filters, written to a file only its creator may download."""

    file_format = models.CharField(_("format"), max_length=8, choices=FileFormat.choices)
    filters: models.JSONField[dict[str, Any]] = models.JSONField(default=dict)
    stored_path = models.CharField(max_length=500, blank=True)  # relative to settings.DATA_DIR
    file_name = models.CharField(max_length=255, blank=True)

    class Meta(BackgroundJob.Meta):
        verbose_name = _("export")
        verbose_name_plural = _("exports")

    def __str__(self) -> str:
        return f"export {self.pk} {self.target} {self.file_format}"


class MergeRecord(models.Model):
    """What a merge changed, kept so it can be shown and undone.

    `merged_snapshot` is the merged-away record and the rows deleted with it (Django serializer
    JSON); `moved` lists every row re-pointed to the survivor (`[model label, pk, field]`);
    `survivor_before` holds the survivor's fields the user chose to overwrite.
    """

    target = models.CharField(_("record type"), max_length=16, choices=Target.choices)
    survivor_id = models.BigIntegerField()
    merged_id = models.BigIntegerField()
    merged_label = models.CharField(max_length=255)
    merged_snapshot: models.JSONField[list[dict[str, Any]]] = models.JSONField(default=list)
    moved: models.JSONField[list[list[Any]]] = models.JSONField(default=list)
    survivor_before: models.JSONField[dict[str, Any]] = models.JSONField(default=dict)
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    merged_at = models.DateTimeField(auto_now_add=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-merged_at", "-id"]
        indexes = [models.Index(fields=["target", "survivor_id"], name="dataio_merge_survivor_idx")]
        verbose_name = _("merge")
        verbose_name_plural = _("merges")

    def __str__(self) -> str:
        return f"merge {self.target} {self.merged_id} into {self.survivor_id}"


class DismissedPair(models.Model):
    """Two records a user said are not duplicates, so the duplicates view stops proposing them."""

    target = models.CharField(_("record type"), max_length=16, choices=Target.choices)
    low_id = models.BigIntegerField()
    high_id = models.BigIntegerField()
    dismissed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    dismissed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["target", "low_id", "high_id"], name="dataio_dismissed_unique_pair"),
            models.CheckConstraint(condition=models.Q(low_id__lt=models.F("high_id")), name="dataio_dismissed_ordered"),
        ]

    def __str__(self) -> str:
        return f"not duplicates: {self.target} {self.low_id}/{self.high_id}"


class DuplicateCandidate(models.Model):
    """A likely duplicate pair found by the last whole-database search (`dataio.duplicates`).

    A table, not a file: every web server reads the same rows, and a page reads only its own 25
    through the (target, -score, low_id, high_id) index instead of parsing the whole result.
    A search replaces a target's rows in one transaction; a merge or a dismissal deletes a pair.
    """

    target = models.CharField(_("record type"), max_length=16, choices=Target.choices)
    low_id = models.BigIntegerField()
    high_id = models.BigIntegerField()
    score = models.PositiveSmallIntegerField(_("score"))
    reasons: models.JSONField[list[str]] = models.JSONField(default=list)
    found_at = models.DateTimeField(_("found at"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["target", "low_id", "high_id"], name="dataio_candidate_unique_pair"),
            models.CheckConstraint(condition=models.Q(low_id__lt=models.F("high_id")), name="dataio_candidate_ordered"),
            models.CheckConstraint(condition=models.Q(score__lte=100), name="dataio_candidate_score_range"),
        ]
        indexes = [
            # Keyset paging, best first: WHERE target = ? AND (score, low, high) after the cursor.
            models.Index(fields=["target", "-score", "low_id", "high_id"], name="dataio_candidate_score_idx"),
            # A merge deletes every pair of the merged record; the unique index serves low_id.
            models.Index(fields=["target", "high_id"], name="dataio_candidate_high_idx"),
        ]
        verbose_name = _("duplicate candidate")
        verbose_name_plural = _("duplicate candidates")

    def __str__(self) -> str:
        return f"likely duplicates: {self.target} {self.low_id}/{self.high_id} ({self.score})"


class DuplicateSearch(models.Model):
    """One run of the whole-database duplicate search: its progress, outcome and figures."""

    target = models.CharField(_("record type"), max_length=16, choices=Target.choices)
    status = models.CharField(_("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )  # null when run by `manage.py find_duplicates`
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(default=0.0)
    compared = models.PositiveBigIntegerField(_("candidate pairs compared"), default=0)
    blocks: models.JSONField[dict[str, int]] = models.JSONField(default=dict)  # blocking key kind -> blocks
    pairs_found = models.PositiveIntegerField(_("likely duplicate pairs"), default=0)
    progress = models.CharField(max_length=200, blank=True)  # the last progress line, while running
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["target", "-id"], name="dataio_search_latest_idx")]
        verbose_name = _("duplicate search")
        verbose_name_plural = _("duplicate searches")

    def __str__(self) -> str:
        return f"duplicate search {self.pk} {self.target} {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status in {JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED}
