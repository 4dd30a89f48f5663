"""File writers for exports: CSV, XLSX and vCard 3.0, writing to any binary stream.

They know nothing of Django models: the export service turns records into rows (CSV, XLSX) or
cards (vCard) and hands them over batch by batch, so a million-row export never holds more than
one batch in memory (openpyxl's write-only mode streams rows to a temporary file the same way).

Spreadsheet safety: a CSV cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is
what Excel and LibreOffice run as a formula ("CSV injection": `=HYPERLINK(...)`, `=cmd|...`), so
such cells get a leading `'`, which spreadsheets read as "this is text". Cells made only of
digits and spaces with one leading sign (`+8613812345678`, `-5`) are left alone: they cannot
call anything, and phone numbers must survive an export → import round trip. XLSX cells are
written with the string type set explicitly, which spreadsheets never evaluate, so they keep
their exact text.
"""

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Protocol

import vobject
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.cell.cell import Cell as SheetCell

Cell = str | int | float | None

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9 ]*")
XLSX_MAX_CELL = 32_767  # Excel refuses longer cells


def csv_safe(value: str) -> str:
    """The cell as a spreadsheet shows it as text, never runs it as a formula."""
    if value.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class TableWriter(Protocol):
    """What the CSV and XLSX writers share: a header, then rows in batches."""

    def write_rows(self, rows: Iterable[Sequence[Cell]]) -> None: ...

    def close(self) -> None: ...


class CsvWriter:
    """UTF-8 with a byte-order mark, so Excel (which reads BOM-less CSV as the ANSI code page, GBK
    on Chinese Windows) opens Chinese text correctly; CRLF line ends as RFC 4180 says."""

    content_type = "text/csv; charset=utf-8"
    extension = "csv"

    def __init__(self, stream: IO[bytes], headers: Sequence[str]) -> None:
        self._text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="", write_through=True)
        self._csv = csv.writer(self._text)
        self._csv.writerow([csv_safe(h) for h in headers])

    def write_rows(self, rows: Iterable[Sequence[Cell]]) -> None:
        self._csv.writerows([["" if c is None else csv_safe(str(c)) for c in row] for row in rows])

    def close(self) -> None:
        self._text.flush()
        self._text.detach()  # leave the caller's stream open


class XlsxWriter:
    """One sheet in openpyxl's write-only mode (rows stream to disk; memory stays flat)."""

    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    extension = "xlsx"

    def __init__(self, stream: IO[bytes], headers: Sequence[str], title: str = "Export") -> None:
        self._stream = stream
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet(title=title[:31])
        self._sheet.append([self._cell(h) for h in headers])

    def _cell(self, value: Cell) -> SheetCell | int | float | None:
        if value is None or value == "":
            return None
        if isinstance(value, int | float):
            return value
        text = ILLEGAL_CHARACTERS_RE.sub("", value)[:XLSX_MAX_CELL]
        cell = WriteOnlyCell(self._sheet, value=text)
        cell.data_type = "s"  # openpyxl would store "=..." as a formula; a string is never evaluated
        return cell

    def write_rows(self, rows: Iterable[Sequence[Cell]]) -> None:
        for row in rows:
            self._sheet.append([self._cell(value) for value in row])

    def close(self) -> None:
        self._book.save(self._stream)


@dataclass
class ContactPoint:
    """An e-mail address or phone number on a card, with its kind (work, home, mobile…)."""

    value: str
    kind: str = ""
    primary: bool = False


@dataclass
class PostalAddress:
    street: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    kind: str = ""


@dataclass
class Card:
    """One vCard: a person, or an organisation when `is_organisation` (an account)."""

    uid: str
    full_name: str
    family_name: str = ""
    given_name: str = ""
    is_organisation: bool = False
    organisations: list[str] = field(default_factory=list)
    title: str = ""
    emails: list[ContactPoint] = field(default_factory=list)
    phones: list[ContactPoint] = field(default_factory=list)
    addresses: list[PostalAddress] = field(default_factory=list)
    url: str = ""
    categories: list[str] = field(default_factory=list)
    note: str = ""
    birthday: str = ""


# vCard 3.0 TYPE values (RFC 2426) for our kinds of e-mail address and phone number.
EMAIL_TYPES = {"work": "WORK", "personal": "HOME"}
PHONE_TYPES = {"mobile": "CELL", "work": "WORK", "home": "HOME"}
ADDRESS_TYPES = {"office": "WORK", "billing": "POSTAL", "shipping": "PARCEL"}


class VCardWriter:
    """vCard 3.0 (RFC 2426), the version Outlook, Google Contacts and phones all read.

    vobject escapes `,` `;` `\\` and newlines and folds long lines at 75 octets without splitting
    a UTF-8 character. An organisation is a card whose FN and ORG are its name; vCard 3.0 has no
    KIND property (4.0 does), so the `X-ABShowAs:COMPANY` extension tells Apple Contacts too.
    """

    content_type = "text/vcard; charset=utf-8"
    extension = "vcf"

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def write_cards(self, cards: Iterable[Card]) -> None:
        self._stream.write("".join(self._serialize(card) for card in cards).encode("utf-8"))

    @staticmethod
    def _serialize(card: Card) -> str:
        vcard = vobject.vCard()
        vcard.add("uid").value = card.uid
        vcard.add("fn").value = card.full_name
        if card.is_organisation:
            vcard.add("n").value = vobject.vcard.Name()
            vcard.add("org").value = [card.full_name]
            vcard.add("x-abshowas").value = "COMPANY"
        else:
            vcard.add("n").value = vobject.vcard.Name(family=card.family_name, given=card.given_name)
            if card.organisations:
                vcard.add("org").value = [card.organisations[0]]
        if card.title:
            vcard.add("title").value = card.title
        for email in card.emails:
            prop = vcard.add("email")
            prop.value = email.value
            prop.type_paramlist = ["INTERNET", *_types(EMAIL_TYPES, email.kind), *(["pref"] if email.primary else [])]
        for phone in card.phones:
            prop = vcard.add("tel")
            prop.value = phone.value
            prop.type_paramlist = [*_types(PHONE_TYPES, phone.kind, "VOICE"), *(["pref"] if phone.primary else [])]
        for address in card.addresses:
            prop = vcard.add("adr")
            prop.value = vobject.vcard.Address(
                street=address.street,
                city=address.city,
                region=address.region,
                code=address.postal_code,
                country=address.country,
            )
            prop.type_paramlist = _types(ADDRESS_TYPES, address.kind, "WORK")
        if card.url:
            vcard.add("url").value = card.url
        if card.categories:
            vcard.add("categories").value = list(card.categories)
        if card.birthday:
            vcard.add("bday").value = card.birthday
        if card.note:
            vcard.add("note").value = card.note
        text: str = vcard.serialize()
        return text

    def close(self) -> None:
        self._stream.flush()


def _types(table: dict[str, str], kind: str, default: str = "") -> list[str]:
    value = table.get(kind, default)
    return [value] if value else []
