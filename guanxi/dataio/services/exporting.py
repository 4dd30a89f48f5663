"""Exports: a list, with its filters and sort, written to CSV, XLSX or vCard.

Rows come from `customers.queries` exactly as the list shows them: `visible_*` for who may see
what, `filter_*` for the filters and search, the list's sort, and for people only the roles at
accounts the exporting user may see. Nobody exports a record, or an account name, they could not
open in the UI.

Small lists (up to `EXPORT_INLINE_LIMIT` rows, 2,000 by default: a second or so of work) are
written at once and handed back as an `InlineExport` for the view to send; larger ones become an
`ExportJob` that a background task writes in batches of `EXPORT_BATCH_SIZE` rows, updating its
progress and honouring a cancel between batches, into a file under `DATA_DIR/exports/` that only
its creator (or an admin) may download. Each batch costs a fixed number of queries whatever its
size (rows, tags, e-mails, phones, roles), so the count grows per batch, never per row.

Headers are plain field labels ("Name", "E-mail", "Mobile", "Tags", a custom attribute's label)
in the language the user worked in, so an exported file imports again through the import mapping
(`dataio.mapping`): e-mails in one cell (primary first), phones one column per kind, choices as
their labels, the owner as a username, several values split by "; ". Columns the importer does
not fill (ID, parent account, team, created, updated) are there to read and are ignored on import.
"""

import logging
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model, Prefetch, QuerySet
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.core.models import AttributeDefinition, AttributeType
from guanxi.core.pagination import capped_count, keyset_page, parse_ordering
from guanxi.customers import queries
from guanxi.customers.models import Account, Address, Person, PhoneNumber
from guanxi.dataio.models import CUSTOMER_TARGETS, ExportJob, FileFormat, JobStatus, Target
from guanxi.dataio.writers import Card, ContactPoint, CsvWriter, PostalAddress, VCardWriter, XlsxWriter
from guanxi.staff.models import User

logger = logging.getLogger(__name__)

DEFAULT_INLINE_LIMIT = 2_000
DEFAULT_BATCH_SIZE = 1_000
DEFAULT_KEEP_DAYS = 7
EXPORTS_FOLDER = "exports"
MULTI_VALUE_SEPARATOR = "; "  # between several e-mails, phones, accounts or tags in one cell (the importer splits)

EXTENSIONS = {FileFormat.CSV: "csv", FileFormat.XLSX: "xlsx", FileFormat.VCARD: "vcf"}
CONTENT_TYPES = {
    FileFormat.CSV: CsvWriter.content_type,
    FileFormat.XLSX: XlsxWriter.content_type,
    FileFormat.VCARD: VCardWriter.content_type,
}
FILE_PREFIXES = {Target.ACCOUNT: "accounts", Target.PERSON: "people"}


def inline_limit() -> int:
    return int(getattr(settings, "EXPORT_INLINE_LIMIT", DEFAULT_INLINE_LIMIT))


def batch_size() -> int:
    return int(getattr(settings, "EXPORT_BATCH_SIZE", DEFAULT_BATCH_SIZE))


# ---------------------------------------------------------------------------------------------
# What is exported: the list's filters and sort


@dataclass
class ExportSpec:
    """The list an export writes: record type, the list's filters and its sort, and the language
    of the headers. Stored on the job as JSON, so a background run sees what the user saw."""

    target: str
    filters: queries.PartyFilters = field(default_factory=queries.PartyFilters)
    ordering: str = ""
    language: str = ""

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self.filters), "ordering": self.ordering, "language": self.language}

    @classmethod
    def from_json(cls, target: str, data: dict[str, Any]) -> "ExportSpec":
        known = set(queries.PartyFilters.__dataclass_fields__)
        filters = queries.PartyFilters(**{k: v for k, v in data.items() if k in known})
        return cls(target, filters, str(data.get("ordering") or ""), str(data.get("language") or ""))

    @property
    def sort(self) -> str:
        if self.target == Target.ACCOUNT:
            return parse_ordering(self.ordering, queries.ACCOUNT_ORDERING, "name")
        return parse_ordering(self.ordering, queries.PERSON_ORDERING, "full_name")


def export_queryset(actor: User, spec: ExportSpec) -> QuerySet[Any]:
    """The records the list shows `actor` under these filters (visibility first, always)."""
    if spec.target == Target.ACCOUNT:
        return queries.filter_accounts(queries.visible_accounts(actor), spec.filters, actor)
    if spec.target == Target.PERSON:
        return queries.filter_people(queries.visible_people(actor), spec.filters, actor)
    raise ValidationError({"target": [_("Choose accounts or people.")]})


def _rows(actor: User, spec: ExportSpec, queryset: QuerySet[Any]) -> QuerySet[Any]:
    """Everything a row needs, fetched per batch in a fixed number of queries."""
    if spec.target == Target.ACCOUNT:
        return (
            queries.account_list_rows(queryset)
            .select_related("team")
            .prefetch_related(Prefetch("addresses", queryset=Address.objects.order_by("id")))
        )
    return queries.person_list_rows_for(queryset, actor)


def _batches(actor: User, spec: ExportSpec, queryset: QuerySet[Any], size: int) -> Iterator[list[Any]]:
    """The rows in the list's order, one keyset page at a time (no OFFSET, no growing cost)."""
    rows = _rows(actor, spec, queryset)
    cursor: str | None = None
    while True:
        page = keyset_page(rows, ordering=spec.sort, cursor=cursor, size=size)
        if page.items:
            yield page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


# ---------------------------------------------------------------------------------------------
# Columns


@dataclass
class _BatchContext:
    """What a batch's rows look up once: accounts `actor` may see among the rows' parents."""

    visible_parent_ids: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Column:
    header: Any  # a lazy translated label, or a custom attribute's label
    value: Callable[[Any, _BatchContext], Any]


_choice_labels: dict[tuple[str, str, str], dict[str, str]] = {}


def _choice(model: type[Model], name: str) -> Callable[[Any, _BatchContext], Any]:
    """A choice field as its label in the current language.

    The labels are looked up once per field and language: `get_FOO_display` hashes every lazy
    label on each call, which cost more than all the queries of an export together.
    """
    field = model._meta.get_field(name)

    def value(record: Any, _ctx: _BatchContext) -> str:
        raw = getattr(record, name)
        if not raw:
            return ""
        key = (model._meta.label, name, translation.get_language() or "")
        labels = _choice_labels.get(key)
        if labels is None:
            labels = {str(v): str(label) for v, label in field.flatchoices}  # type: ignore[union-attr]  # concrete fields
            _choice_labels[key] = labels
        return labels.get(str(raw), str(raw))

    return value


def _text(name: str) -> Callable[[Any, _BatchContext], Any]:
    return lambda record, _ctx: getattr(record, name) or ""


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _joined(values: list[str]) -> str:
    return MULTI_VALUE_SEPARATOR.join(v for v in values if v)


def _owner(record: Account | Person, _ctx: _BatchContext) -> str:
    return record.owner.username if record.owner else ""


def _tags(record: Account | Person, _ctx: _BatchContext) -> str:
    return _joined(sorted(tag.name for tag in record.tags.all()))


def _emails(person: Person) -> list[str]:
    return [e.address for e in person.emails.all()]  # prefetched primary first


def _phones_of_kind(kind: str) -> Callable[[Any, _BatchContext], Any]:
    """One column per kind of number (mobile, work, home, other), as the importer reads them."""
    return lambda person, _ctx: _joined([p.number for p in person.phones.all() if p.kind == kind])


def _person_accounts(person: Person) -> list[str]:
    names: list[str] = []
    for role in person.roles.all():  # prefetched: only roles at accounts the exporter may see
        if role.account.name not in names:
            names.append(role.account.name)
    return names


def _person_titles(person: Person) -> list[str]:
    titles: list[str] = []
    for role in person.roles.all():
        if role.job_title and role.job_title not in titles:
            titles.append(role.job_title)
    return titles


def _parent(account: Account, ctx: _BatchContext) -> str:
    if account.parent_id is None or account.parent_id not in ctx.visible_parent_ids or account.parent is None:
        return ""
    return account.parent.name


def _first_address(account: Account) -> Address | None:
    addresses = list(account.addresses.all())
    return addresses[0] if addresses else None


def _address_part(name: str) -> Callable[[Any, _BatchContext], Any]:
    def value(account: Account, _ctx: _BatchContext) -> str:
        address = _first_address(account)
        return str(getattr(address, name)) if address else ""

    return value


def _label(model: type[Model], name: str) -> Any:
    return capfirst(model._meta.get_field(name).verbose_name)  # type: ignore[union-attr]  # concrete fields only


PERSON_COLUMNS = [
    Column(gettext_lazy("ID"), lambda p, _c: p.pk),
    Column(_label(Person, "full_name"), _text("full_name")),
    Column(_label(Person, "family_name"), _text("family_name")),
    Column(_label(Person, "given_name"), _text("given_name")),
    Column(gettext_lazy("E-mail"), lambda p, _c: _joined(_emails(p))),
    Column(gettext_lazy("Mobile"), _phones_of_kind(PhoneNumber.Kind.MOBILE)),
    Column(gettext_lazy("Phone"), _phones_of_kind(PhoneNumber.Kind.WORK)),
    Column(gettext_lazy("Home phone"), _phones_of_kind(PhoneNumber.Kind.HOME)),
    Column(gettext_lazy("Other phone"), _phones_of_kind(PhoneNumber.Kind.OTHER)),
    Column(gettext_lazy("Account"), lambda p, _c: _joined(_person_accounts(p))),
    Column(gettext_lazy("Job title"), lambda p, _c: _joined(_person_titles(p))),
    Column(_label(Person, "lifecycle_stage"), _choice(Person, "lifecycle_stage")),
    Column(_label(Person, "owner"), _owner),
    Column(_label(Person, "tags"), _tags),
    Column(_label(Person, "birthday"), lambda p, _c: p.birthday.isoformat() if p.birthday else ""),
    Column(_label(Person, "preferred_language"), _choice(Person, "preferred_language")),
    Column(_label(Person, "preferred_channel"), _choice(Person, "preferred_channel")),
    Column(_label(Person, "source"), _choice(Person, "source")),
    Column(_label(Person, "preferences"), _text("preferences")),
    Column(_label(Person, "buying_motives"), _text("buying_motives")),
    Column(_label(Person, "notes"), _text("notes")),
    Column(_label(Person, "created_at"), lambda p, _c: _local(p.created_at)),
    Column(_label(Person, "updated_at"), lambda p, _c: _local(p.updated_at)),
]

ACCOUNT_COLUMNS = [
    Column(gettext_lazy("ID"), lambda a, _c: a.pk),
    Column(_label(Account, "name"), _text("name")),
    Column(_label(Account, "kind"), _choice(Account, "kind")),
    Column(_label(Account, "organisation_type"), _choice(Account, "organisation_type")),
    Column(_label(Account, "industry"), _text("industry")),
    Column(_label(Account, "market_segment"), _choice(Account, "market_segment")),
    Column(_label(Account, "grade"), _text("grade")),
    Column(_label(Account, "parent"), _parent),
    Column(_label(Account, "website"), _text("website")),
    Column(_label(Account, "registration_number"), _text("registration_number")),
    Column(_label(Account, "phone"), _text("phone")),
    Column(_label(Account, "status"), _choice(Account, "status")),
    Column(_label(Account, "source"), _choice(Account, "source")),
    Column(_label(Account, "lifecycle_stage"), _choice(Account, "lifecycle_stage")),
    Column(_label(Account, "owner"), _owner),
    Column(_label(Account, "team"), lambda a, _c: a.team.name if a.team else ""),
    Column(_label(Account, "tags"), _tags),
    Column(_label(Address, "line1"), _address_part("line1")),
    Column(_label(Address, "city"), _address_part("city")),
    Column(_label(Address, "region"), _address_part("region")),
    Column(_label(Address, "postal_code"), _address_part("postal_code")),
    Column(_label(Address, "country"), _address_part("country")),
    Column(_label(Account, "notes"), _text("notes")),
    Column(_label(Account, "created_at"), lambda a, _c: _local(a.created_at)),
    Column(_label(Account, "updated_at"), lambda a, _c: _local(a.updated_at)),
]


def _attribute_column(definition: AttributeDefinition) -> Column:
    def value(record: Account | Person, _ctx: _BatchContext) -> Any:
        raw = (record.attributes or {}).get(definition.key)
        if raw is None:
            return ""
        if definition.data_type == AttributeType.NUMBER and isinstance(raw, int | float):
            return raw
        return str(raw)

    return Column(definition.label, value)


def columns_for(target: str) -> list[Column]:
    """The export's columns: the record's fields, then one per custom attribute definition."""
    base = ACCOUNT_COLUMNS if target == Target.ACCOUNT else PERSON_COLUMNS
    definitions = AttributeDefinition.objects.filter(target=target).order_by("position", "key")
    return [*base, *(_attribute_column(d) for d in definitions)]


def _context(actor: User, spec: ExportSpec, batch: list[Any]) -> _BatchContext:
    if spec.target != Target.ACCOUNT:
        return _BatchContext()
    parent_ids = {a.parent_id for a in batch if a.parent_id is not None}
    if not parent_ids:
        return _BatchContext()
    visible = queries.visible_accounts(actor).filter(pk__in=parent_ids).values_list("pk", flat=True)
    return _BatchContext(visible_parent_ids=set(visible))


# ---------------------------------------------------------------------------------------------
# Cards (vCard)


def _person_card(person: Person) -> Card:
    return Card(
        uid=f"guanxi-person-{person.pk}",
        full_name=person.full_name,
        family_name=person.family_name,
        given_name=person.given_name,
        organisations=_person_accounts(person),
        title=(_person_titles(person) or [""])[0],
        emails=[ContactPoint(e.address, e.kind, e.is_primary) for e in person.emails.all()],
        phones=[ContactPoint(p.number, p.kind, p.is_primary) for p in person.phones.all()],
        categories=sorted(tag.name for tag in person.tags.all()),
        note=person.notes,
        birthday=person.birthday.isoformat() if person.birthday else "",
    )


def _account_card(account: Account) -> Card:
    return Card(
        uid=f"guanxi-account-{account.pk}",
        full_name=account.name,
        is_organisation=True,
        phones=[ContactPoint(account.phone, "work", True)] if account.phone else [],
        addresses=[
            PostalAddress(
                street=", ".join(part for part in (a.line1, a.line2) if part),
                city=a.city,
                region=a.region,
                postal_code=a.postal_code,
                country=a.country,
                kind=a.kind,
            )
            for a in account.addresses.all()
        ],
        url=account.website,
        categories=sorted(tag.name for tag in account.tags.all()),
        note=account.notes,
    )


# ---------------------------------------------------------------------------------------------
# Writing


def file_name_for(target: str, file_format: str) -> str:
    """`people-2026-12-01.csv`: what the record type is and when it was taken."""
    return f"{FILE_PREFIXES[Target(target)]}-{timezone.localdate().isoformat()}.{EXTENSIONS[FileFormat(file_format)]}"


def write_export(
    actor: User,
    spec: ExportSpec,
    file_format: str,
    stream: IO[bytes],
    *,
    on_batch: Callable[[int], bool] | None = None,
) -> int:
    """Write the list to `stream`; returns the number of records written.

    `on_batch(rows written so far)` runs after each batch; returning False stops the export
    (a cancel). The headers follow `spec.language` (the user's language when it was started).
    """
    queryset = export_queryset(actor, spec)
    language = spec.language or actor.language or settings.LANGUAGE_CODE
    written = 0
    with translation.override(language):
        if file_format == FileFormat.VCARD:
            vcards = VCardWriter(stream)
            card_of = _account_card if spec.target == Target.ACCOUNT else _person_card
            for batch in _batches(actor, spec, queryset, batch_size()):
                vcards.write_cards(card_of(record) for record in batch)
                written += len(batch)
                if on_batch is not None and not on_batch(written):
                    return written
            vcards.close()
            return written
        columns = columns_for(spec.target)
        headers = [str(column.header) for column in columns]
        writer: CsvWriter | XlsxWriter
        if file_format == FileFormat.CSV:
            writer = CsvWriter(stream, headers)
        elif file_format == FileFormat.XLSX:
            writer = XlsxWriter(stream, headers, title=str(Target(spec.target).label))
        else:
            raise ValidationError({"file_format": [_("Choose CSV, XLSX or vCard.")]})
        for batch in _batches(actor, spec, queryset, batch_size()):
            context = _context(actor, spec, batch)
            writer.write_rows([[column.value(record, context) for column in columns] for record in batch])
            written += len(batch)
            if on_batch is not None and not on_batch(written):
                return written
        writer.close()
    return written


@dataclass
class InlineExport:
    """A small export written at once: the view sends `file` as a download."""

    file: IO[bytes]
    file_name: str
    content_type: str
    rows: int


def _check(actor: User, target: str, file_format: str) -> None:
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise PermissionDenied(_("Sign in to export."))
    errors: dict[str, list[str]] = {}
    if target not in CUSTOMER_TARGETS:
        errors["target"] = [_("Choose accounts or people.")]
    if file_format not in FileFormat.values:
        errors["file_format"] = [_("Choose CSV, XLSX or vCard.")]
    if errors:
        raise ValidationError(errors)


def start_export(
    actor: User, spec: ExportSpec, file_format: str, *, allow_inline: bool = True
) -> ExportJob | InlineExport:
    """Export the list `spec` describes, as `actor` sees it.

    Up to `EXPORT_INLINE_LIMIT` rows (and `allow_inline`): written now and returned as an
    `InlineExport`. Otherwise an `ExportJob` is created and the background task queued after
    commit; the caller shows its progress. Any active user may export what they may see.
    """
    _check(actor, spec.target, file_format)
    if not spec.language:
        spec.language = translation.get_language() or settings.LANGUAGE_CODE
    if allow_inline:
        _count, more = capped_count(export_queryset(actor, spec), cap=inline_limit())
        if not more:
            buffer = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115  # handed to the response, which closes it
            rows = write_export(actor, spec, file_format, buffer)
            buffer.seek(0)
            return InlineExport(
                file=buffer,
                file_name=file_name_for(spec.target, file_format),
                content_type=CONTENT_TYPES[FileFormat(file_format)],
                rows=rows,
            )
    return _create_job(actor, spec, file_format)


@transaction.atomic
def _create_job(actor: User, spec: ExportSpec, file_format: str) -> ExportJob:
    job = ExportJob.objects.create(
        created_by=actor, target=spec.target, file_format=file_format, filters=spec.to_json()
    )
    # The task module calls back into this one, so it is imported here, not at the top.
    from guanxi.dataio.tasks.exporting import run_export as run_export_task

    job_id = job.pk
    transaction.on_commit(lambda: run_export_task.enqueue(job_id))
    return job


def _job_updates(job_id: int, **fields: Any) -> None:
    ExportJob.objects.filter(pk=job_id).update(**fields)


def run_export(job_id: int) -> ExportJob:
    """Write an export job's file in batches (called by the task, tests and the CLI).

    Safe to run twice: only a waiting job is claimed, so a finished, cancelled or already
    running job is left alone. The file is written under a temporary name and renamed when
    complete, so a download never sees half a file; a cancel or failure removes it.
    """
    claimed = ExportJob.objects.filter(pk=job_id, status=JobStatus.PENDING, cancel_requested=False).update(
        status=JobStatus.RUNNING, started_at=timezone.now()
    )
    job = ExportJob.objects.select_related("created_by").get(pk=job_id)
    if not claimed:
        return job
    spec = ExportSpec.from_json(job.target, job.filters)
    folder = Path(settings.DATA_DIR) / EXPORTS_FOLDER
    relative = f"{EXPORTS_FOLDER}/{job.pk}-{secrets.token_hex(8)}.{EXTENSIONS[FileFormat(job.file_format)]}"
    final = Path(settings.DATA_DIR) / relative
    partial = final.with_name(final.name + ".part")
    cancelled = False

    def progress(written: int) -> bool:
        nonlocal cancelled
        _job_updates(job_id, processed=written)
        cancelled = ExportJob.objects.filter(pk=job_id, cancel_requested=True).exists()
        return not cancelled

    try:
        total = export_queryset(job.created_by, spec).count()
        _job_updates(job_id, total=total)
        folder.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as stream:
            written = write_export(job.created_by, spec, job.file_format, stream, on_batch=progress)
        if cancelled:
            partial.unlink(missing_ok=True)
            _job_updates(job_id, status=JobStatus.CANCELLED, finished_at=timezone.now())
        else:
            os.replace(partial, final)
            _job_updates(
                job_id,
                status=JobStatus.DONE,
                processed=written,
                total=written,
                stored_path=relative,
                file_name=file_name_for(job.target, job.file_format),
                finished_at=timezone.now(),
            )
    except Exception as exc:
        logger.exception("export %s failed", job_id)
        partial.unlink(missing_ok=True)
        _job_updates(job_id, status=JobStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now())
    job.refresh_from_db()
    return job


# ---------------------------------------------------------------------------------------------
# Jobs: who sees them, cancel, download, clean-up


def visible_export_jobs(user: User) -> QuerySet[ExportJob]:
    """A user's own exports; an admin sees everyone's."""
    jobs = ExportJob.objects.select_related("created_by").order_by("-created_at", "-id")
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return jobs.none()
    return jobs if user.is_admin else jobs.filter(created_by=user)


def cancel_export(actor: User, job: ExportJob) -> ExportJob:
    """Stop an export: a waiting one at once, a running one before its next batch."""
    if not visible_export_jobs(actor).filter(pk=job.pk).exists():
        raise PermissionDenied(_("You may not cancel this export."))
    with transaction.atomic():
        stopped = ExportJob.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
            status=JobStatus.CANCELLED, cancel_requested=True, finished_at=timezone.now()
        )
        if not stopped:
            running = ExportJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(cancel_requested=True)
            if not running:
                raise ValidationError(_("This export has already finished."))
    job.refresh_from_db()
    return job


def export_file(actor: User, job: ExportJob) -> Path | None:
    """The finished file of a job `actor` may download, or None (not theirs, not ready, expired)."""
    if job.created_by_id != actor.pk and not actor.is_admin:
        return None
    if job.status != JobStatus.DONE or not job.stored_path:
        return None
    root = (Path(settings.DATA_DIR) / EXPORTS_FOLDER).resolve()
    path = (Path(settings.DATA_DIR) / job.stored_path).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def delete_old_exports(keep_days: int | None = None) -> int:
    """Delete the files of exports finished more than `keep_days` ago (the job rows stay, as a
    record of who exported what). Returns how many files were removed. Meant to run daily."""
    days = keep_days if keep_days is not None else int(getattr(settings, "EXPORT_KEEP_DAYS", DEFAULT_KEEP_DAYS))
    cutoff = timezone.now() - timedelta(days=days)
    removed = 0
    old = ExportJob.objects.filter(finished_at__lt=cutoff).exclude(stored_path="")
    for job in old.only("pk", "stored_path").iterator():
        (Path(settings.DATA_DIR) / job.stored_path).unlink(missing_ok=True)
        ExportJob.objects.filter(pk=job.pk).update(stored_path="")
        removed += 1
    return removed
