"""Importing accounts and people from CSV, XLSX and vCard files: upload → mapping → dry run → import.

Each row is validated by the rules the customer services apply to a form (normalised e-mail,
E.164 phone, names, typed custom attributes, field lengths, who may own the record), checked for
duplicates inside the file and against every record in the database (visible or not), and then
written in bulk (`customers.bulk`) or, for an existing record the importer may change, updated
through `customers.services`. Rows that fail are kept as `ImportProblem`s with their line,
column and reason, so the user can download them, fix them and import them again.

Problems: a rejected row has one `ImportProblem` per bad cell, each holding the row's cells in
`row`; a row skipped as a duplicate has one problem whose `row` is empty (`is_skipped`), whose
reason names the earlier line or the existing record. `rejected_rows_csv` lists rejected rows only.

Transactions: `good_rows` writes each batch in its own transaction together with its problems
and the job's counters, so a cancelled or crashed import keeps whole batches only.
`all_or_nothing` first checks every row without writing; only when none is rejected does it write
them all in one transaction, so one bad row means nothing is written.
"""

import csv
import datetime
import io
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.commerce import services as commerce
from guanxi.core.attributes import MAX_TEXT_LENGTH
from guanxi.core.attributes import _coerce as coerce_attribute  # the one typed-value rule, applied per cell
from guanxi.core.models import AttributeDefinition
from guanxi.core.names import has_cjk
from guanxi.customers import bulk, services
from guanxi.customers.models import (
    Account,
    AccountKind,
    AccountStatus,
    Channel,
    EmailAddress,
    Grade,
    LifecycleStage,
    MarketSegment,
    OrganisationType,
    Person,
    PhoneNumber,
    RoleKind,
    Source,
)
from guanxi.customers.normalise import InvalidValueError, domain_of, full_name, normalise_email, normalise_phone
from guanxi.dataio import mapping as mapping_rules
from guanxi.dataio import readers, writers
from guanxi.dataio.models import (
    DuplicatePolicy,
    ImportJob,
    ImportMode,
    ImportProblem,
    ImportStage,
    JobStatus,
    SavedMapping,
    Target,
)
from guanxi.staff import access
from guanxi.staff.models import StaffRole, User

BATCH_SIZE = 2000
MAX_TEXT_CELL = 10_000  # notes and other free text: longer cells are rejected, never cut
DEFAULT_ROLE_KIND = RoleKind.USER  # a person imported with a company: the plainest role there
IMPORT_DIR = "imports"
KEY_LABELS = {
    "email": gettext_lazy("e-mail"),
    "phone": gettext_lazy("phone"),
    "registration number": gettext_lazy("registration number"),
    "website": gettext_lazy("website domain"),
    "name": gettext_lazy("name"),
}

_SPLIT = re.compile(r"\s*(?::::|[;,\n，；、|])\s*")
_COMPOUND_SURNAME_TEXT = (
    "欧阳 司马 诸葛 上官 东方 皇甫 令狐 慕容 司徒 夏侯 尉迟 公孙 "
    "长孙 宇文 轩辕 端木 西门 南宫 独孤 申屠 太史 闻人 呼延 万俟 "
    "澹台 公冶 宗政 濮阳 淳于 单于 赫连 钟离 百里 东郭 南门 羊舌 微生 左丘 第五"
)
_COMPOUND_SURNAMES = frozenset(_COMPOUND_SURNAME_TEXT.split())
_GOOGLE_SYSTEM_LABELS = frozenset({"mycontacts", "starred", "friends & family"})
_COUNTRIES = {
    "china": "CN", "中国": "CN", "中华人民共和国": "CN", "prc": "CN", "people's republic of china": "CN",
    "united states": "US", "united states of america": "US", "usa": "US", "美国": "US",
    "united kingdom": "GB", "uk": "GB", "great britain": "GB", "英国": "GB", "germany": "DE", "德国": "DE",
    "france": "FR", "法国": "FR", "japan": "JP", "日本": "JP", "hong kong": "HK", "香港": "HK", "中国香港": "HK",
    "taiwan": "TW", "台湾": "TW", "中国台湾": "TW", "macau": "MO", "macao": "MO", "澳门": "MO",
    "singapore": "SG", "新加坡": "SG", "south korea": "KR", "korea": "KR", "韩国": "KR", "canada": "CA",
    "加拿大": "CA", "australia": "AU", "澳大利亚": "AU", "netherlands": "NL", "荷兰": "NL", "italy": "IT",
    "意大利": "IT", "spain": "ES", "西班牙": "ES", "india": "IN", "印度": "IN",
}  # fmt: skip

_DATE_PATTERNS = (
    (re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?"), "ymd"),
    (re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?"), "ymd"),
    (re.compile(r"(\d{4})(\d{2})(\d{2})"), "ymd"),
    (re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})"), "md_or_dm"),
)


# ---------------------------------------------------------------------------------------------
# Permission


def _require_importer(actor: User) -> None:
    if not (actor.is_authenticated and actor.is_active) or (actor.role == StaffRole.ANALYST and not actor.is_admin):
        raise PermissionDenied(_("You may not import records."))


def can_import_orders(user: Any) -> bool:
    """The shop feed's own rule (`POST /api/orders/bulk/`): whoever may take orders may import them."""
    return commerce.can_write_orders(user)


def require_order_importer(user: Any) -> None:
    if not can_import_orders(user):
        raise PermissionDenied(_("You may not import orders: only staff who take orders may."))


def _require_job(actor: User, job: ImportJob) -> None:
    _require_importer(actor)
    if not (actor.is_admin or job.created_by_id == actor.pk):
        raise PermissionDenied(_("You may not see this import."))
    if job.target == Target.ORDER:
        require_order_importer(actor)


def visible_import_jobs(user: User) -> QuerySet[ImportJob]:
    """Own jobs; admins see all."""
    if not (user.is_authenticated and user.is_active):
        return ImportJob.objects.none()
    jobs = ImportJob.objects.select_related("created_by")
    return jobs if user.is_admin else jobs.filter(created_by=user)


def is_skipped(problem: ImportProblem) -> bool:
    """A row left out as a duplicate (not rejected): its reason names the earlier line or record."""
    return not problem.row


# ---------------------------------------------------------------------------------------------
# Upload and mapping


def _target(target: str) -> str:
    if target not in Target.values:
        raise ValidationError({"target": [_("Choose accounts, people or orders.")]})
    return target


def job_path(job: ImportJob) -> Path:
    return Path(settings.DATA_DIR) / job.stored_path


def start_import(actor: User, upload: UploadedFile[Any] | IO[bytes], file_name: str, target: str) -> ImportJob:
    """Store the file, read its header and suggest a mapping; ValidationError if it cannot be read."""
    _require_importer(actor)
    _target(target)
    if target == Target.ORDER:
        require_order_importer(actor)
    suffix = Path(file_name).suffix.lower()[:10]
    relative = f"{IMPORT_DIR}/{uuid.uuid4().hex}{suffix if re.fullmatch(r'\.[a-z0-9]+', suffix) else ''}"
    path = Path(settings.DATA_DIR) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        if isinstance(upload, UploadedFile):
            for piece in upload.chunks():
                out.write(piece)
        else:
            while piece := upload.read(1024 * 1024):
                out.write(piece)
    try:
        with path.open("rb") as stored:
            head = stored.read(4096)
        if not head.strip():
            raise readers.UnreadableFileError(_("The file is empty."))
        file_format = readers.detect_format(file_name, head)
        reader = readers.open_reader(path, file_format)
        total = reader.count()
    except readers.UnreadableFileError as exc:
        path.unlink(missing_ok=True)
        raise ValidationError({"file": [str(exc)]}) from exc
    if total == 0:
        path.unlink(missing_ok=True)
        raise ValidationError({"file": [_("The file has a header but no rows.")]})
    return ImportJob.objects.create(
        created_by=actor,
        target=target,
        original_name=file_name[:255],
        stored_path=relative,
        file_format=file_format,
        encoding=reader.encoding,
        columns=reader.columns,
        mapping=_suggest_for_job(target, reader.columns),
        total=total,
        status=JobStatus.PENDING,
        stage=ImportStage.UPLOADED,
    )


def _suggest_for_job(target: str, columns: list[str]) -> dict[str, str]:
    wanted = set(columns)
    for saved in SavedMapping.objects.filter(target=target).order_by("-created_at", "-id"):
        if set(saved.mapping) == wanted:
            return {column: saved.mapping.get(column, "") for column in columns}
    return suggest_mapping(target, columns)


def suggest_mapping(target: str, columns: list[str]) -> dict[str, str]:
    """column → field key ("" = ignore) from the headers, in English and Chinese."""
    return mapping_rules.suggest_mapping(_target(target), columns)


def importable_fields(target: str) -> list[tuple[str, str]]:
    """(field key, label) for every field a column can fill, custom attributes as `attr:<key>`."""
    return mapping_rules.importable_fields(_target(target))


@transaction.atomic
def set_mapping(
    actor: User, job: ImportJob, mapping: dict[str, str], mode: str, on_duplicate: str, save_as: str = ""
) -> ImportJob:
    """Check and keep the mapping (errors name the column) and how to import; optionally save it."""
    _require_job(actor, job)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status == JobStatus.RUNNING:
        raise ValidationError({"mapping": [_("This import is running; wait for it to finish.")]})
    if job.stage == ImportStage.IMPORTED:
        raise ValidationError({"mapping": [_("This file has been imported already.")]})
    errors: dict[str, list[str]] = {}
    known = {key for key, _label in importable_fields(job.target)}
    used: dict[str, str] = {}
    for column, key in mapping.items():
        if column not in job.columns:
            errors[column] = [_("The file has no column called %(column)s.") % {"column": column}]
        elif key and key not in known:
            errors[column] = [_("Unknown field: %(field)s") % {"field": key}]
        elif key and key in used:
            errors[column] = [
                _("%(field)s is already filled from column %(column)s.") % {"field": key, "column": used[key]}
            ]
        elif key:
            used[key] = column
    if not errors and job.target == Target.ORDER:
        errors.update(_check_order_mapping(set(used)))
        if on_duplicate == DuplicatePolicy.UPDATE:
            errors["on_duplicate"] = [_("An order imported before is skipped; orders are never updated by an import.")]
    elif not errors and not set(used) & set(mapping_rules.REQUIRED_ANY[job.target]):
        if job.target == Target.PERSON:
            errors["mapping"] = [_("Map a column to the name, the family name or the given name.")]
        else:
            errors["mapping"] = [_("Map a column to the name.")]
    if mode not in ImportMode.values:
        errors["mode"] = [_("Choose one of: %(values)s.") % {"values": ", ".join(ImportMode.values)}]
    if on_duplicate not in DuplicatePolicy.values:
        errors["on_duplicate"] = [_("Choose one of: %(values)s.") % {"values": ", ".join(DuplicatePolicy.values)}]
    save_as = save_as.strip()
    if save_as:
        existing = SavedMapping.objects.filter(target=job.target, name=save_as).first()
        if len(save_as) > 100:
            errors["save_as"] = [_("At most %(count)d characters.") % {"count": 100}]
        elif existing is not None and not (actor.is_admin or existing.created_by_id == actor.pk):
            errors["save_as"] = [_("Another user saved a mapping with this name; choose another name.")]
    if errors:
        raise ValidationError(errors)
    job.mapping = {column: mapping.get(column, "") for column in job.columns}
    job.mode = mode
    job.on_duplicate = on_duplicate
    job.stage = ImportStage.MAPPED
    job.save(update_fields=["mapping", "mode", "on_duplicate", "stage"])
    if save_as:
        SavedMapping.objects.update_or_create(
            target=job.target, name=save_as, defaults={"mapping": job.mapping, "created_by": actor}
        )
    return job


def _check_order_mapping(used: set[str]) -> dict[str, list[str]]:
    """What an orders mapping lacks: the reference, a buyer, and what each line is."""
    errors: list[str] = []
    if "external_id" not in used:
        errors.append(_("Map a column to the order reference: it groups the rows into orders."))
    if not used & set(mapping_rules.BUYER_FIELDS):
        errors.append(_("Map a column to the buyer: a name, an e-mail, a phone or an ID."))
    if not used & {"sku", "description"}:
        errors.append(_("Map a column to the product SKU or to the description."))
    return {"mapping": errors} if errors else {}


@transaction.atomic
def request_run(actor: User, job: ImportJob, *, dry_run: bool) -> ImportJob:
    """Queue a dry run or the import itself; the worker picks it up after this transaction commits."""
    _require_job(actor, job)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.stage == ImportStage.UPLOADED:
        raise ValidationError({"mapping": [_("Choose which field each column fills first.")]})
    if job.stage == ImportStage.IMPORTED:
        raise ValidationError({"mapping": [_("This file has been imported already.")]})
    if job.status == JobStatus.RUNNING:
        raise ValidationError({"mapping": [_("This import is running; wait for it to finish.")]})
    job.status = JobStatus.PENDING
    job.dry_run = dry_run
    job.processed = 0
    job.error = ""
    job.cancel_requested = False
    job.finished_at = None
    job.save(update_fields=["status", "dry_run", "processed", "error", "cancel_requested", "finished_at"])
    job_id = job.pk

    def enqueue() -> None:
        from guanxi.dataio.tasks.importing import run_import as run_import_task  # the task imports this module

        run_import_task.enqueue(job_id, dry_run)

    transaction.on_commit(enqueue)
    return job


def cancel_import(actor: User, job: ImportJob) -> ImportJob:
    """Ask a running import to stop after its current batch; a queued one stops at once."""
    _require_job(actor, job)
    ImportJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    ImportJob.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job


# ---------------------------------------------------------------------------------------------
# Cell values


def clean_cell(value: str) -> str:
    """Strip, and undo the `'` our rejected-rows file puts before formula-like text."""
    text = value.strip()
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@":
        return text[1:]
    return text


def split_values(value: str) -> list[str]:
    """`a@x.cn; b@x.cn`, Google's `a ::: b`, `VIP、老客户` → the separate values."""
    return [part for part in _SPLIT.split(value) if part]


def split_name(name: str) -> tuple[str, str]:
    """(family, given): 诸葛亮 → 诸葛 + 亮, 张伟 → 张 + 伟, `Zhang, Wei` and `Wei Zhang` → Zhang + Wei."""
    text = " ".join(name.split())
    if not text:
        return "", ""
    if has_cjk(text):
        compact = text.replace(" ", "").replace("·", "·")
        if len(compact) >= 3 and compact[:2] in _COMPOUND_SURNAMES:
            return compact[:2], compact[2:]
        if len(compact) >= 2:
            return compact[:1], compact[1:]
        return compact, ""
    if "," in text:
        family, _comma, given = text.partition(",")
        return family.strip(), given.strip()
    words = text.split(" ")
    if len(words) == 1:
        return "", words[0]
    return words[-1], " ".join(words[:-1])


def parse_date(value: str) -> datetime.date:
    """1990-05-03, 1990/5/3, 1990.5.3, 1990年5月3日, 19900503, 3/5/1990 or 5/3/1990 (month first
    when both read as valid, as Outlook and Google write them); ValueError otherwise."""
    text = value.strip()
    for pattern, order in _DATE_PATTERNS:
        match = pattern.fullmatch(text)
        if not match:
            continue
        a, b, c = (int(g) for g in match.groups())
        if order == "ymd":
            return datetime.date(a, b, c)
        if a > 12:
            return datetime.date(c, b, a)
        return datetime.date(c, a, b)
    raise ValueError(text)


def choice_index(choices: list[tuple[str, Any]], extra: dict[str, str] | None = None) -> dict[str, str]:
    """Lower-cased value, English label and Chinese label → stored value."""
    index: dict[str, str] = {}
    for value, label in choices:
        index[str(value).casefold()] = str(value)
        for language in ("en", "zh-hans"):
            with translation.override(language):
                index.setdefault(str(label).casefold(), str(value))
    for key, value in (extra or {}).items():
        index.setdefault(key.casefold(), value)
    return index


# ---------------------------------------------------------------------------------------------
# Row outcomes


@dataclass
class Outcome:
    line: int
    cells: dict[str, str]
    errors: list[tuple[str, str]] = field(default_factory=list)  # (column, reason)
    keys: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, value, column) for duplicates
    new: bulk.NewPerson | bulk.NewAccount | None = None
    update: dict[str, Any] = field(default_factory=dict)  # field values for services.update_*
    company: str = ""
    job_title: str = ""
    action: str = ""  # create, update, skip, reject
    existing_id: int | None = None
    skip_reason: str = ""
    skip_column: str = ""


class RowChecker:
    """Validates rows of one job: everything that needs no look-up of existing records."""

    def __init__(self, job: ImportJob, actor: User) -> None:
        self.job = job
        self.actor = actor
        self.target = job.target
        self.columns: dict[str, str] = {key: column for column, key in job.mapping.items() if key}
        self.definitions = {d.key: d for d in AttributeDefinition.objects.filter(target=self.target)}
        self.attribute_columns = {
            key.removeprefix(mapping_rules.ATTRIBUTE_PREFIX): column
            for key, column in self.columns.items()
            if key.startswith(mapping_rules.ATTRIBUTE_PREFIX)
        }
        self.users: dict[str, User] = {}
        for user in User.objects.all():
            for name in (user.username, user.email, str(user), user.get_full_name()):
                if name:
                    self.users.setdefault(name.casefold(), user)
        self.stages = choice_index(LifecycleStage.choices)
        self.sources = choice_index(Source.choices)
        self.languages = choice_index(
            list(settings.LANGUAGES),
            {"zh": "zh-hans", "zh-cn": "zh-hans", "chinese": "zh-hans", "中文": "zh-hans", "汉语": "zh-hans",
             "english": "en", "英文": "en", "英语": "en", "en-us": "en", "en-gb": "en"},
        )  # fmt: skip
        self.channels = choice_index(Channel.choices, {"e-mail": "email", "微信": "wechat", "短信": "sms"})
        self.kinds = choice_index(AccountKind.choices)
        self.org_types = choice_index(OrganisationType.choices)
        self.segments = choice_index(MarketSegment.choices)
        self.grades = choice_index(Grade.choices)
        self.statuses = choice_index(AccountStatus.choices)
        self.url_validator = URLValidator()

    # -- helpers ---------------------------------------------------------------------------------

    def get(self, out: Outcome, key: str, limit: int | None = None) -> str:
        column = self.columns.get(key)
        if column is None:
            return ""
        value = clean_cell(out.cells.get(column, ""))
        limit = limit or MAX_TEXT_CELL
        if len(value) > limit:
            out.errors.append(
                (
                    column,
                    _("Too long: %(length)d characters, at most %(limit)d.") % {"length": len(value), "limit": limit},
                )
            )
            return ""
        return value

    def choice(self, out: Outcome, key: str, index: dict[str, str], default: str = "") -> str:
        value = self.get(out, key, 100)
        if not value:
            return default
        found = index.get(value.casefold())
        if found is None:
            values = sorted(set(index.values()))
            out.errors.append(
                (
                    self.columns[key],
                    _("%(value)s is not one of: %(values)s.") % {"value": value, "values": ", ".join(values)},
                )
            )
            return default
        return found

    def owner(self, out: Outcome) -> User | None:
        value = self.get(out, "owner", 150)
        if not value:
            return self.actor
        column = self.columns["owner"]
        user = self.users.get(value.casefold())
        if user is None:
            out.errors.append((column, _("No user is called %(name)s.") % {"name": value}))
            return self.actor
        if not user.is_active:
            out.errors.append((column, _("This user is deactivated.")))
        elif not access.can_assign_to(self.actor, user):
            out.errors.append((column, _("You may not assign records to this user.")))
        return user

    def tags(self, out: Outcome) -> list[str]:
        value = self.get(out, "tags")
        names: list[str] = []
        for part in split_values(value):
            name = part.removeprefix("* ").strip()
            if not name or name.casefold() in _GOOGLE_SYSTEM_LABELS:
                continue
            if len(name) > 64:
                out.errors.append(
                    (self.columns["tags"], _("A tag has at most 64 characters: %(name)s") % {"name": name[:70]})
                )
                continue
            if name not in names:
                names.append(name)
        return names

    def attributes(self, out: Outcome, *, required: bool) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, column in self.attribute_columns.items():
            definition = self.definitions.get(key)
            raw = clean_cell(out.cells.get(column, ""))
            if definition is None:
                out.errors.append((column, _("Unknown custom attribute.")))
                continue
            if not raw:
                continue
            if len(raw) > MAX_TEXT_LENGTH:
                out.errors.append(
                    (
                        column,
                        _("Too long: %(length)d characters, at most %(limit)d.")
                        % {"length": len(raw), "limit": MAX_TEXT_LENGTH},
                    )
                )
                continue
            if definition.data_type == "date":
                try:
                    raw = parse_date(raw).isoformat()
                except ValueError:
                    out.errors.append((column, _("Enter a date as YYYY-MM-DD.")))
                    continue
            try:
                values[key] = coerce_attribute(definition, raw)
            except ValueError as exc:
                out.errors.append((column, str(exc)))
        if required:
            for key, definition in self.definitions.items():
                if definition.required and key not in values:
                    column = self.attribute_columns.get(key, "")
                    if not any(c == column and r for c, r in out.errors):
                        out.errors.append((column, _("%(label)s is required.") % {"label": definition.label}))
        return values

    def contacts(
        self, out: Outcome, fields: tuple[tuple[str, str], ...], normalise: Any, limit: int
    ) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        seen: set[str] = set()
        for key, kind in fields:
            column = self.columns.get(key)
            if column is None:
                continue
            for raw in split_values(self.get(out, key)):
                try:
                    value = normalise(raw)
                except InvalidValueError as exc:
                    out.errors.append((column, str(exc)))
                    continue
                if len(value) > limit:
                    out.errors.append(
                        (
                            column,
                            _("Too long: %(length)d characters, at most %(limit)d.")
                            % {"length": len(value), "limit": limit},
                        )
                    )
                    continue
                if value not in seen:
                    seen.add(value)
                    found.append((value, kind))
                    out.keys.append((key.split("_")[0] if "email" in key else "phone", value, column))
        return found

    # -- people ----------------------------------------------------------------------------------

    def person(self, line: int, cells: dict[str, str]) -> Outcome:
        out = Outcome(line, cells)
        family = self.get(out, "family_name", 100)
        given = self.get(out, "given_name", 100)
        name_column = (
            self.columns.get("full_name") or self.columns.get("family_name") or self.columns.get("given_name", "")
        )
        if not family and not given:
            whole = self.get(out, "full_name", 201)
            family, given = split_name(whole)
            for part, limit in ((family, 100), (given, 100)):
                if len(part) > limit:
                    out.errors.append(
                        (
                            name_column,
                            _("Too long: %(length)d characters, at most %(limit)d.")
                            % {"length": len(part), "limit": limit},
                        )
                    )
        if not family and not given and not any(c in (name_column,) for c, _r in out.errors):
            out.errors.append((name_column, _("Enter a family name or a given name.")))
        emails = self.contacts(
            out, (("email", "work"), ("email_2", "personal"), ("email_3", "other")), normalise_email, 254
        )
        phones = self.contacts(
            out,
            (("mobile", "mobile"), ("phone", "work"), ("home_phone", "home"), ("other_phone", "other")),
            normalise_phone,
            32,
        )
        birthday = None
        raw_birthday = self.get(out, "birthday", 40)
        if raw_birthday:
            try:
                birthday = parse_date(raw_birthday)
                if not 1900 <= birthday.year <= timezone.localdate().year:
                    raise ValueError(raw_birthday)
            except ValueError:
                birthday = None
                out.errors.append(
                    (
                        self.columns["birthday"],
                        _("%(value)s is not a birthday we can read; write it as 1990-05-03, 1990/5/3 or 1990年5月3日.")
                        % {"value": raw_birthday},
                    )
                )
        owner = self.owner(out)
        stage = self.choice(out, "lifecycle_stage", self.stages)
        source = self.choice(out, "source", self.sources)
        language = self.choice(out, "preferred_language", self.languages)
        channel = self.choice(out, "preferred_channel", self.channels)
        tags = self.tags(out)
        notes = self.get(out, "notes")
        preferences = self.get(out, "preferences")
        motives = self.get(out, "buying_motives")
        attributes = self.attributes(out, required=True)
        out.company = self.get(out, "company", 200)
        out.job_title = self.get(out, "job_title", 100)
        if out.errors:
            out.action = "reject"
            return out
        out.new = bulk.NewPerson(
            family_name=family,
            given_name=given,
            full_name=full_name(family, given),
            birthday=birthday,
            preferred_language=language,
            preferred_channel=channel,
            preferences=preferences,
            buying_motives=motives,
            source=source or Source.IMPORT,
            owner=owner,
            lifecycle_stage=stage or LifecycleStage.PROSPECT,
            attributes=attributes,
            notes=notes,
            emails=emails,
            phones=phones,
            tags=tags,
        )
        update: dict[str, Any] = {}
        for key, value in (
            ("family_name", family),
            ("given_name", given),
            ("birthday", birthday),
            ("preferred_language", language),
            ("preferred_channel", channel),
            ("preferences", preferences),
            ("buying_motives", motives),
            ("source", source),
            ("notes", notes),
        ):
            if value:
                update[key] = value
        if self.columns.get("owner") and self.get(out, "owner"):
            update["owner"] = owner
        out.update = update
        return out

    # -- accounts --------------------------------------------------------------------------------

    def account(self, line: int, cells: dict[str, str]) -> Outcome:
        out = Outcome(line, cells)
        name = " ".join(self.get(out, "name", 200).split())
        if not name and not any(c == self.columns.get("name") for c, _r in out.errors):
            out.errors.append((self.columns.get("name", ""), _("Enter the account's name.")))
        website = self.get(out, "website", 255)
        if website:
            candidate = website if "://" in website else "https://" + website
            try:
                self.url_validator(candidate)
                website = candidate
            except ValidationError:
                out.errors.append((self.columns["website"], _("%(value)s is not a web address.") % {"value": website}))
        regno = "".join(self.get(out, "registration_number", 64).split()).upper()
        phone = ""
        raw_phone = self.get(out, "phone", 100)
        if raw_phone:
            try:
                phone = normalise_phone(split_values(raw_phone)[0])
            except InvalidValueError as exc:
                out.errors.append((self.columns["phone"], str(exc)))
        country = self.get(out, "country", 100)
        if country:
            code = _COUNTRIES.get(country.casefold()) or (
                country.upper() if re.fullmatch(r"[A-Za-z]{2}", country) else ""
            )
            if not code:
                out.errors.append(
                    (
                        self.columns["country"],
                        _("%(value)s is not a country we know; use a two-letter code such as CN.") % {"value": country},
                    )
                )
            country = code
        address = {
            "line1": self.get(out, "address", 200),
            "city": self.get(out, "city", 100),
            "region": self.get(out, "region", 100),
            "postal_code": self.get(out, "postal_code", 20),
            "country": country,
        }
        if not address["line1"] and any(address.values()):
            address["line1"] = (
                ", ".join(v for v in (address["city"], address["region"]) if v) or address["postal_code"] or country
            )
        owner = self.owner(out)
        values = {
            "kind": self.choice(out, "kind", self.kinds),
            "organisation_type": self.choice(out, "organisation_type", self.org_types),
            "industry": self.get(out, "industry", 100),
            "market_segment": self.choice(out, "market_segment", self.segments),
            "grade": self.choice(out, "grade", self.grades),
            "status": self.choice(out, "status", self.statuses),
            "source": self.choice(out, "source", self.sources),
            "notes": self.get(out, "notes"),
        }
        stage = self.choice(out, "lifecycle_stage", self.stages)
        tags = self.tags(out)
        attributes = self.attributes(out, required=True)
        if out.errors:
            out.action = "reject"
            return out
        domain = domain_of(website)
        out.new = bulk.NewAccount(
            name=name,
            kind=values["kind"] or AccountKind.CUSTOMER,
            organisation_type=values["organisation_type"] or OrganisationType.COMPANY,
            industry=values["industry"],
            market_segment=values["market_segment"],
            grade=values["grade"],
            website=website,
            domain=domain,
            registration_number=regno,
            phone=phone,
            status=values["status"] or AccountStatus.ACTIVE,
            source=values["source"] or Source.IMPORT,
            owner=owner,
            lifecycle_stage=stage or LifecycleStage.PROSPECT,
            attributes=attributes,
            notes=values["notes"],
            tags=tags,
            addresses=[address] if address["line1"] else [],
        )
        update: dict[str, Any] = {k: v for k, v in values.items() if v}
        update.update(
            {
                k: v
                for k, v in (("name", name), ("website", website), ("registration_number", regno), ("phone", phone))
                if v
            }
        )
        if self.columns.get("owner") and self.get(out, "owner"):
            update["owner"] = owner
        out.update = update
        if regno:
            out.keys.append(("registration number", regno, self.columns["registration_number"]))
        if domain:
            out.keys.append(("website", domain, self.columns["website"]))
        out.keys.append(("name", name, self.columns["name"]))
        return out


# ---------------------------------------------------------------------------------------------
# Running


class _CancelledError(Exception):
    pass


class _RejectedError(Exception):
    pass


@dataclass
class Counters:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    processed: int = 0


class _Pass(Protocol):
    """What `_pass` needs of a run: `_Run` (accounts, people) and `importing_orders.OrderRun`."""

    counters: Counters
    progress: Callable[[ImportJob], None] | None
    write: bool

    def batches(self) -> Iterator[list[readers.Row]]: ...

    def process(self, rows: list[readers.Row]) -> list[Outcome]: ...


class _Run:
    """One pass over the file: validate, find duplicates, and (when `write`) write, batch by batch."""

    def __init__(
        self, job: ImportJob, actor: User, *, write: bool, progress: Callable[[ImportJob], None] | None = None
    ) -> None:
        self.job = job
        self.progress = progress
        self.actor = actor
        self.write = write
        self.checker = RowChecker(job, actor)
        self.is_person = job.target == Target.PERSON
        self.update_existing = job.on_duplicate == DuplicatePolicy.UPDATE
        self.seen: dict[tuple[str, str], int] = {}  # (kind, value) -> line of the first row with it
        self.seen_existing: dict[int, int] = {}  # existing record id -> line that matched it
        self.companies: dict[str, int | None] = {}  # account name -> id (None: created in a dry run)
        self.counters = Counters()
        self.note = f"import {job.pk}"

    def batches(self) -> Iterator[list[readers.Row]]:
        reader = readers.open_reader(job_path(self.job), self.job.file_format, self.job.encoding)
        batch: list[readers.Row] = []
        for row in reader.rows():
            batch.append(row)
            if len(batch) >= BATCH_SIZE:
                yield batch
                batch = []
        if batch:
            yield batch

    def process(self, rows: list[readers.Row]) -> list[Outcome]:
        check = self.checker.person if self.is_person else self.checker.account
        outcomes = [check(row.line, row.cells) for row in rows]
        self._find_duplicates(outcomes)
        if self.write:
            self._write(outcomes)
        else:
            for out in outcomes:
                if out.action in ("create", "update"):
                    self._count(out.action)
        self.counters.processed += len(rows)
        return outcomes

    def _count(self, action: str) -> None:
        if action == "create":
            self.counters.created += 1
        elif action == "update":
            self.counters.updated += 1

    def _existing(self, outcomes: list[Outcome]) -> dict[tuple[str, str], list[int]]:
        keys = [key for out in outcomes if out.action != "reject" for key in out.keys]
        found: dict[tuple[str, str], list[int]] = {}
        if self.is_person:
            emails = [v for k, v, _c in keys if k == "email"]
            phones = [v for k, v, _c in keys if k == "phone"]
            for address, person_id in EmailAddress.objects.filter(address__in=emails).values_list(
                "address", "person_id"
            ):
                found.setdefault(("email", address), []).append(person_id)
            for number, person_id in PhoneNumber.objects.filter(number__in=phones).values_list("number", "person_id"):
                found.setdefault(("phone", number), []).append(person_id)
        else:
            regnos = [v for k, v, _c in keys if k == "registration number"]
            domains = [v for k, v, _c in keys if k == "website"]
            names = [v for k, v, _c in keys if k == "name"]
            rows = Account.objects.filter(
                Q(registration_number__in=regnos) | Q(domain__in=domains) | Q(name__in=names)
            ).values_list("pk", "registration_number", "domain", "name")
            for pk, regno, domain, name in rows:
                for kind, value in (("registration number", regno), ("website", domain), ("name", name)):
                    if value:
                        found.setdefault((kind, value), []).append(pk)
        return found

    def _find_duplicates(self, outcomes: list[Outcome]) -> None:
        existing = self._existing(outcomes)
        model: type[Person] | type[Account] = Person if self.is_person else Account
        team_field = None if self.is_person else "team"
        matched_ids = {pk for ids in existing.values() for pk in ids}
        editable = set(
            model.objects.filter(access.editable_q(self.actor, team_field=team_field), pk__in=matched_ids).values_list(
                "pk", flat=True
            )
        )
        visible = dict(
            model.objects.filter(access.visible_q(self.actor, team_field=team_field), pk__in=matched_ids).values_list(
                "pk", "full_name" if self.is_person else "name"
            )
        )
        for out in outcomes:
            if out.action == "reject":
                continue
            earlier = next(((k, v, c, self.seen[(k, v)]) for k, v, c in out.keys if (k, v) in self.seen), None)
            if earlier is not None:
                kind, value, column, line = earlier
                out.action = "skip"
                out.skip_column = column
                out.skip_reason = _("Skipped: same %(kind)s as line %(line)d (%(value)s).") % {
                    "kind": KEY_LABELS[kind],
                    "line": line,
                    "value": value,
                }
                continue
            matches: list[tuple[int, str, str, str]] = []
            for kind, value, column in out.keys:
                for pk in existing.get((kind, value), []):
                    if pk not in {m[0] for m in matches}:
                        matches.append((pk, kind, value, column))
            for kind, value, _column in out.keys:
                self.seen[(kind, value)] = out.line
            if not matches:
                out.action = "create"
                continue
            pk, kind, value, column = matches[0]
            label = visible.get(pk)
            record = (
                _("an existing record (%(name)s, #%(id)d)") % {"name": label, "id": pk}
                if label is not None
                else _("an existing record you cannot see")
            )
            if pk in self.seen_existing:
                out.action = "skip"
                out.skip_column = column
                out.skip_reason = _("Skipped: matches the same record as line %(line)d.") % {
                    "line": self.seen_existing[pk]
                }
                continue
            self.seen_existing[pk] = out.line
            if len(matches) > 1 and self.update_existing:
                out.action = "reject"
                out.errors.append((column, _("Matches several existing records; merge them first.")))
                continue
            if not self.update_existing:
                out.action = "skip"
                out.skip_column = column
                out.skip_reason = _("Skipped: same %(kind)s (%(value)s) as %(record)s.") % {
                    "kind": KEY_LABELS[kind],
                    "value": value,
                    "record": record,
                }
                continue
            if pk not in editable:
                out.action = "reject"
                out.errors.append(
                    (
                        column,
                        _("Same %(kind)s (%(value)s) as %(record)s, which you may not change.")
                        % {"kind": KEY_LABELS[kind], "value": value, "record": record},
                    )
                )
                continue
            out.action = "update"
            out.existing_id = pk

    # -- writing ---------------------------------------------------------------------------------

    def _write(self, outcomes: list[Outcome]) -> None:
        creates = [out for out in outcomes if out.action == "create"]
        if self.is_person:
            self._link_companies(creates)
            people = [out.new for out in creates if isinstance(out.new, bulk.NewPerson)]
            bulk.create_people(self.actor, people, note=self.note)
        else:
            accounts = [out.new for out in creates if isinstance(out.new, bulk.NewAccount)]
            bulk.create_accounts(self.actor, accounts, note=self.note)
        self.counters.created += len(creates)
        for out in outcomes:
            if out.action == "update":
                try:
                    with transaction.atomic():
                        self._update(out)
                except ValidationError as exc:
                    out.action = "reject"
                    for key, messages in exc.message_dict.items():
                        out.errors.extend((self._column_for(key), m) for m in messages)
                    continue
                except PermissionDenied as exc:
                    out.action = "reject"
                    out.errors.append(("", str(exc)))
                    continue
                self.counters.updated += 1

    def _column_for(self, key: str) -> str:
        base = key.split(".")[0]
        if base == "attributes":
            return self.checker.columns.get(mapping_rules.ATTRIBUTE_PREFIX + key.partition(".")[2], "")
        aliases = {"emails": "email", "phones": "mobile", "family_name": "full_name"}
        return self.checker.columns.get(base) or self.checker.columns.get(aliases.get(base, ""), "")

    def _link_companies(self, creates: list[Outcome]) -> None:
        """Roles at the named accounts: an existing account the importer can see, found by its exact
        name, else a new one owned like the person."""
        names = {out.company for out in creates if out.company} - set(self.companies)
        if names:
            found = Account.objects.filter(access.visible_q(self.actor, team_field="team"), name__in=names)
            for pk, name in found.order_by("pk").values_list("pk", "name"):
                self.companies.setdefault(name, pk)
        missing = [out for out in creates if out.company and self.companies.get(out.company) is None]
        new_accounts: dict[str, bulk.NewAccount] = {}
        for out in missing:
            if out.company not in new_accounts and isinstance(out.new, bulk.NewPerson):
                new_accounts[out.company] = bulk.NewAccount(name=out.company, owner=out.new.owner, source=Source.IMPORT)
        ids = bulk.create_accounts(self.actor, list(new_accounts.values()), note=self.note)
        self.companies.update(zip(new_accounts, ids, strict=True))
        for out in creates:
            account_id = self.companies.get(out.company) if out.company else None
            if account_id is not None and isinstance(out.new, bulk.NewPerson):
                out.new.roles.append((account_id, DEFAULT_ROLE_KIND, out.job_title))

    def _update(self, out: Outcome) -> None:
        if out.existing_id is None or out.new is None:  # never: both are set with action "update"
            raise ValueError("update without a record")
        if isinstance(out.new, bulk.NewPerson):
            person = Person.objects.get(pk=out.existing_id)
            emails = [*person.emails.values_list("address", flat=True), *(a for a, _k in out.new.emails)]
            phones = [*person.phones.values_list("number", flat=True), *(n for n, _k in out.new.phones)]
            tags = [*person.tags.values_list("name", flat=True), *out.new.tags] if out.new.tags else None
            data = dict(out.update)
            if ("family_name" in data) != ("given_name" in data):  # a whole name replaces both parts
                data.setdefault("family_name", out.new.family_name)
                data.setdefault("given_name", out.new.given_name)
            person = services.update_person(
                self.actor,
                person,
                data,
                emails=emails if out.new.emails else None,
                phones=phones if out.new.phones else None,
                tags=tags,
                attributes=out.new.attributes or None,
            )
            if self.checker.columns.get("lifecycle_stage") and out.new.lifecycle_stage != person.lifecycle_stage:
                services.set_lifecycle_stage(self.actor, person, out.new.lifecycle_stage, reason=self.note)
            return
        account = Account.objects.get(pk=out.existing_id)
        tags = [*account.tags.values_list("name", flat=True), *out.new.tags] if out.new.tags else None
        account = services.update_account(
            self.actor, account, out.update, tags=tags, attributes=out.new.attributes or None
        )
        if self.checker.columns.get("lifecycle_stage") and out.new.lifecycle_stage != account.lifecycle_stage:
            services.set_lifecycle_stage(self.actor, account, out.new.lifecycle_stage, reason=self.note)


def _problems(job: ImportJob, outcomes: list[Outcome]) -> tuple[list[ImportProblem], int, int]:
    problems: list[ImportProblem] = []
    rejected = skipped = 0
    for out in outcomes:
        if out.action == "reject":
            rejected += 1
            for column, reason in out.errors or [("", _("Rejected."))]:
                problems.append(
                    ImportProblem(job=job, line=out.line, column=column[:255], reason=reason[:500], row=out.cells)
                )
        elif out.action == "skip":
            skipped += 1
            problems.append(
                ImportProblem(
                    job=job, line=out.line, column=out.skip_column[:255], reason=out.skip_reason[:500], row={}
                )
            )
    return problems, rejected, skipped


def _cancel_requested(job: ImportJob) -> bool:
    return bool(ImportJob.objects.filter(pk=job.pk).values_list("cancel_requested", flat=True).first())


def _save_progress(job: ImportJob, run: _Pass) -> None:
    c = run.counters
    job.processed, job.created_count, job.updated_count = c.processed, c.created, c.updated
    job.skipped_count, job.rejected_count = c.skipped, c.rejected
    job.save(update_fields=["processed", "created_count", "updated_count", "skipped_count", "rejected_count"])
    if run.progress is not None:
        run.progress(job)


def _finish(job: ImportJob, status: str, stage: str | None = None, error: str = "") -> ImportJob:
    job.status = status
    if stage:
        job.stage = stage
    job.error = error
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "stage", "error", "finished_at"])
    return job


def _new_run(job: ImportJob, actor: User, *, write: bool, progress: Callable[[ImportJob], None] | None = None) -> _Pass:
    if job.target == Target.ORDER:
        # Imported here: the orders module builds on this one (its cells, outcomes and batches).
        from guanxi.dataio.services.importing_orders import OrderRun

        return OrderRun(job, actor, write=write, progress=progress)
    return _Run(job, actor, write=write, progress=progress)


def _pass(job: ImportJob, run: _Pass, *, per_batch_transaction: bool, honour_cancel: bool = True) -> None:
    for rows in run.batches():
        if honour_cancel and _cancel_requested(job):
            raise _CancelledError
        if per_batch_transaction:
            with transaction.atomic():
                _batch(job, run, rows)
        else:
            _batch(job, run, rows)


def _batch(job: ImportJob, run: _Pass, rows: list[readers.Row]) -> None:
    outcomes = run.process(rows)
    problems, rejected, skipped = _problems(job, outcomes)
    ImportProblem.objects.bulk_create(problems, batch_size=1000)
    run.counters.rejected += rejected
    run.counters.skipped += skipped
    if job.mode == ImportMode.ALL_OR_NOTHING and run.write and rejected:
        raise _RejectedError
    _save_progress(job, run)


def run_import(job_id: int, *, dry_run: bool, progress: Callable[[ImportJob], None] | None = None) -> ImportJob:
    """Check (dry run) or import the job's file, batch by batch; see the module docstring.

    `progress` (the command line's printer) is called with the job after each batch."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if job.stage == ImportStage.IMPORTED or job.status == JobStatus.CANCELLED:
        return job
    actor = job.created_by
    try:
        _require_job(actor, job)
    except PermissionDenied as exc:
        return _finish(job, JobStatus.FAILED, error=str(exc))
    job.problems.all().delete()
    job.status = JobStatus.RUNNING
    job.dry_run = dry_run
    job.started_at = timezone.now()
    job.finished_at = None
    job.error = ""
    job.save(update_fields=["status", "dry_run", "started_at", "finished_at", "error"])
    check = _new_run(job, actor, write=False, progress=progress)
    _save_progress(job, check)
    try:
        if dry_run:
            _pass(job, check, per_batch_transaction=False)
            return _finish(job, JobStatus.DONE, ImportStage.CHECKED)
        if job.mode == ImportMode.GOOD_ROWS:
            run = _new_run(job, actor, write=True, progress=progress)
            try:
                _pass(job, run, per_batch_transaction=True)
            except _CancelledError:
                return _finish(
                    job,
                    JobStatus.CANCELLED,
                    ImportStage.IMPORTED if run.counters.created + run.counters.updated else None,
                )
            return _finish(job, JobStatus.DONE, ImportStage.IMPORTED)
        _pass(job, check, per_batch_transaction=False)
        if check.counters.rejected:
            return _finish(
                job,
                JobStatus.FAILED,
                ImportStage.CHECKED,
                _(
                    "%(count)d rows were rejected, so nothing was imported (all or nothing). "
                    "Fix them, or import the good rows only."
                )
                % {"count": check.counters.rejected},
            )
        run = _new_run(job, actor, write=True, progress=progress)
        try:
            with transaction.atomic():
                job.problems.all().delete()
                _pass(job, run, per_batch_transaction=False)
        except _RejectedError:
            _save_progress(job, check)
            return _finish(
                job,
                JobStatus.FAILED,
                ImportStage.CHECKED,
                _("The data changed while importing and some rows were rejected; nothing was imported."),
            )
        return _finish(job, JobStatus.DONE, ImportStage.IMPORTED)
    except _CancelledError:
        return _finish(job, JobStatus.CANCELLED)
    except readers.UnreadableFileError as exc:
        return _finish(job, JobStatus.FAILED, error=str(exc))
    except Exception as exc:
        _finish(job, JobStatus.FAILED, error=_("The import stopped on an unexpected error: %(error)s") % {"error": exc})
        raise


# ---------------------------------------------------------------------------------------------
# Rejected rows


def _safe(value: Any) -> str:
    """A cell as text Excel shows rather than runs: formula-like text gets a leading `'`."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(writers.FORMULA_TRIGGERS) else text


def rejected_rows_csv(job: ImportJob) -> Iterator[str]:
    """The rejected rows as CSV lines, UTF-8 with a BOM (so Excel opens it right): the original
    columns plus `line` and `problem`, to fix and import again."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    line_header, problem_header = _("line"), _("problem")
    writer.writerow([_safe(c) for c in [*job.columns, line_header, problem_header]])
    yield "\ufeff" + flush()
    current: ImportProblem | None = None
    reasons: list[str] = []
    for problem in job.problems.exclude(row={}).order_by("line", "id").iterator(chunk_size=2000):
        if current is not None and problem.line != current.line:
            writer.writerow(
                [*(_safe(current.row.get(c, "")) for c in job.columns), current.line, _safe("; ".join(reasons))]
            )
            yield flush()
            reasons = []
        current = problem
        reasons.append(f"{problem.column}: {problem.reason}" if problem.column else problem.reason)
    if current is not None:
        writer.writerow(
            [*(_safe(current.row.get(c, "")) for c in job.columns), current.line, _safe("; ".join(reasons))]
        )
        yield flush()
