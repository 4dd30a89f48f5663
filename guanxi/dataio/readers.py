"""Reading the rows of an uploaded file, whatever wrote it: CSV in any common encoding, XLSX, vCard.

A file is read as a header (the column names) and rows of text cells keyed by column, each with
the line a user finds it at: the CSV line the record starts on (header = line 1), the sheet row
of an XLSX file, the `BEGIN:VCARD` line of a card. Cells are plain text: nothing is evaluated, so
an Excel formula (`=HYPERLINK(...)`) arrives as the text the user typed, and a number typed into
Excel arrives as its digits (`13812345678`, not `1.3812345678E10`).

Encodings are told apart without guessing libraries: a byte-order mark decides; else strict UTF-8;
else GB18030 (what Excel in China writes, a superset of GBK) when the decoded text is made of
common Chinese characters; else Windows-1252/Latin-1 (Outlook and Excel in Western Europe and the
US) when it holds no control characters. Anything else is refused with a message saying so.
"""

import codecs
import csv
import datetime
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

# Cells longer than this are kept whole here; the validator rejects them with a clear reason.
csv.field_size_limit(10 * 1024 * 1024)

VCARD_COLUMNS = (
    "Full name",
    "Family name",
    "Given name",
    "E-mail",
    "Mobile",
    "Phone",
    "Organisation",
    "Job title",
    "Birthday",
    "Address",
    "Website",
    "Note",
    "Categories",
)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_MAX_CONTROL_SHARE = 0.001


class UnreadableFileError(ValueError):
    """The file as a whole cannot be read; the message tells the user why, in their words."""


@dataclass
class Row:
    line: int
    cells: dict[str, str]


# ---------------------------------------------------------------------------------------------
# Format and encoding


def detect_format(file_name: str, head: bytes) -> str:
    """`csv`, `xlsx` or `vcard`, from the content first (a renamed file is still read right)."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    text = head.lstrip(codecs.BOM_UTF8).lstrip()
    if text[:11].upper() == b"BEGIN:VCARD":
        return "vcard"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "vcard" if "BEGIN:VCARD" in head.decode("utf-16", errors="ignore").upper()[:40] else "csv"
    suffix = Path(file_name).suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        return "xlsx"  # a damaged workbook: opening it says so
    if suffix in {".vcf", ".vcard"}:
        return "vcard"
    return "csv"


def _too_many_controls(text: str) -> bool:
    found = len(_CONTROL.findall(text[:1_000_000]))
    return found > max(0, _MAX_CONTROL_SHARE * min(len(text), 1_000_000))


def _looks_chinese(text: str) -> bool:
    """Text decoded as GB18030 is believed when its non-ASCII characters are mostly common ones
    (GB2312's 6,763 hanzi and full-width punctuation): Latin-1 bytes read as GB18030 give rare ones."""
    wide = [c for c in text[:200_000] if ord(c) > 127]
    if not wide:
        return True
    common = 0
    for char in wide:
        try:
            char.encode("gb2312")
        except UnicodeEncodeError:
            continue
        common += 1
    return common >= 0.9 * len(wide)


def decode(data: bytes) -> tuple[str, str]:
    """The text of the file and the encoding it was read with, or UnreadableFileError."""
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    elif b"\x00" in data:
        raise UnreadableFileError(_("The file is not text (it holds binary data). Save it as CSV, XLSX or vCard."))
    else:
        candidates = ["utf-8", "gb18030", "cp1252", "latin-1"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "gb18030" and not _looks_chinese(text):
            continue
        if _too_many_controls(text):
            continue
        return text, encoding
    raise UnreadableFileError(
        _(
            "The file's text encoding is not one we can read (tried UTF-8, GB18030/GBK and Latin-1). "
            "Save it again as CSV UTF-8."
        )
    )


# ---------------------------------------------------------------------------------------------
# Columns


def unique_columns(raw: list[Any]) -> list[str]:
    """Header cells as column names: stripped, blanks named by position, repeats numbered."""
    columns: list[str] = []
    seen: set[str] = set()
    for index, value in enumerate(raw, start=1):
        name = cell_text(value).strip() or _("Column %(number)d") % {"number": index}
        candidate, counter = name, 2
        while candidate in seen:
            candidate = f"{name} ({counter})"
            counter += 1
        seen.add(candidate)
        columns.append(candidate)
    return columns


def cell_text(value: Any) -> str:
    """A spreadsheet value as the text a user sees in the cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    return str(value)


# ---------------------------------------------------------------------------------------------
# Readers


class Reader:
    """Columns of a file and an iterator over its rows; blank rows are left out (lines still count)."""

    format = ""

    def __init__(self, path: Path, encoding: str = "") -> None:
        self.path = path
        self.encoding = encoding
        self.columns: list[str] = []

    def rows(self) -> Iterator[Row]:
        raise NotImplementedError

    def count(self) -> int:
        return sum(1 for _row in self.rows())


class CsvReader(Reader):
    format = "csv"

    def __init__(self, path: Path, encoding: str = "") -> None:
        super().__init__(path, encoding)
        data = path.read_bytes()
        if not data.strip():
            raise UnreadableFileError(_("The file is empty."))
        if encoding:
            try:
                self.text = data.decode(encoding)
            except (UnicodeDecodeError, LookupError) as exc:
                message = _("The file cannot be read as %(encoding)s.") % {"encoding": encoding}
                raise UnreadableFileError(message) from exc
        else:
            self.text, self.encoding = decode(data)
        self.text = self.text.removeprefix("\ufeff")
        self.delimiter = _delimiter(self.text)
        try:
            header = next(csv.reader(io.StringIO(self.text), delimiter=self.delimiter), [])
        except csv.Error as exc:
            message = _("The first line of the file is not a CSV header: %(error)s") % {"error": exc}
            raise UnreadableFileError(message) from exc
        if not any(cell.strip() for cell in header):
            raise UnreadableFileError(_("The first line of the file is empty; it must name the columns."))
        self.columns = unique_columns(header)

    def rows(self) -> Iterator[Row]:
        reader = csv.reader(io.StringIO(self.text), delimiter=self.delimiter)
        try:
            next(reader)
            start = reader.line_num + 1
            for values in reader:
                line, start = start, reader.line_num + 1
                if not any(v.strip() for v in values):
                    continue
                cells = dict(zip(self.columns, values, strict=False))
                if len(values) > len(self.columns):
                    extra = [v for v in values[len(self.columns) :] if v.strip()]
                    if extra:
                        cells[_("(extra cells)")] = " | ".join(extra)
                yield Row(line, cells)
        except csv.Error as exc:
            raise UnreadableFileError(
                _("The CSV file is malformed near line %(line)d: %(error)s") % {"line": reader.line_num, "error": exc}
            ) from exc


def _delimiter(text: str) -> str:
    """The separator of the header line: Excel writes `;` where the decimal mark is a comma,
    and tabs in "Unicode text"."""
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class XlsxReader(Reader):
    """The first worksheet, read in openpyxl's streaming mode with formulas as their text."""

    format = "xlsx"

    def __init__(self, path: Path, encoding: str = "") -> None:
        super().__init__(path, "")
        self._open()
        try:
            header = next(self._values(), None)
        finally:
            self._close()
        if header is None or not any(cell_text(v).strip() for v in header):
            raise UnreadableFileError(_("The first row of the worksheet is empty; it must name the columns."))
        while header and cell_text(header[-1]).strip() == "":
            header = header[:-1]
        self.columns = unique_columns(list(header))

    def _open(self) -> None:
        import openpyxl

        try:
            self.book = openpyxl.load_workbook(self.path, read_only=True, data_only=False)
            self.sheet = self.book.worksheets[0]
        except Exception as exc:  # openpyxl raises many kinds for a damaged file; all mean the same
            raise _damaged(exc) from exc

    def _close(self) -> None:
        self.book.close()

    def _values(self) -> Iterator[tuple[Any, ...]]:
        try:
            yield from self.sheet.iter_rows(values_only=True)
        except Exception as exc:  # as in _open: a truncated part fails in many ways
            raise _damaged(exc) from exc

    def rows(self) -> Iterator[Row]:
        self._open()
        try:
            values_iter = self._values()
            next(values_iter, None)
            for line, values in enumerate(values_iter, start=2):
                texts = [cell_text(v) for v in values]
                if not any(t.strip() for t in texts):
                    continue
                yield Row(line, dict(zip(self.columns, texts, strict=False)))
        finally:
            self._close()


def _damaged(exc: Exception) -> UnreadableFileError:
    if isinstance(exc, zipfile.BadZipFile | KeyError | EOFError):
        return UnreadableFileError(_("The Excel file is damaged or incomplete (was the upload cut short?)."))
    return UnreadableFileError(_("The Excel file cannot be read: %(error)s") % {"error": exc})


class VcardReader(Reader):
    """One row per card with the fixed columns of VCARD_COLUMNS; vCard 3.0 and 4.0 (and 2.1)."""

    format = "vcard"

    def __init__(self, path: Path, encoding: str = "") -> None:
        super().__init__(path, encoding)
        data = path.read_bytes()
        if not data.strip():
            raise UnreadableFileError(_("The file is empty."))
        self.text, self.encoding = (data.decode(encoding), encoding) if encoding else decode(data)
        if "BEGIN:VCARD" not in self.text.upper():
            raise UnreadableFileError(_("The file holds no vCard (no BEGIN:VCARD line)."))
        self.columns = list(VCARD_COLUMNS)

    def _cards(self) -> Iterator[tuple[int, str]]:
        lines = self.text.removeprefix("\ufeff").splitlines()
        start, block = 0, []
        for number, line in enumerate(lines, start=1):
            upper = line.strip().upper()
            if upper == "BEGIN:VCARD":
                start, block = number, [line]
            elif block:
                block.append(line)
                if upper == "END:VCARD":
                    yield start, "\r\n".join(block) + "\r\n"
                    block = []
        if block:
            yield start, "\r\n".join(block) + "\r\n"

    def rows(self) -> Iterator[Row]:
        for line, card_text in self._cards():
            yield Row(line, vcard_cells(card_text))


def vcard_cells(card_text: str) -> dict[str, str]:
    """The cells of one card; a card vobject cannot parse gives its raw text under `Note`,
    with no name, so the validator rejects it naming the line."""
    import vobject

    try:
        card = vobject.readOne(card_text, ignoreUnreadable=True)
    except Exception:  # vobject raises ParseError and plain errors alike for a bad card
        return dict.fromkeys(VCARD_COLUMNS, "")
    cells = dict.fromkeys(VCARD_COLUMNS, "")

    def values(name: str) -> list[Any]:
        return list(card.contents.get(name, []))

    for item in values("fn")[:1]:
        cells["Full name"] = str(item.value).strip()
    for item in values("n")[:1]:
        name = item.value
        if hasattr(name, "family"):
            cells["Family name"] = _join(name.family)
            cells["Given name"] = " ".join(p for p in (_join(name.given), _join(name.additional)) if p)
        else:
            parts = str(name).split(";")
            cells["Family name"] = parts[0].strip()
            cells["Given name"] = parts[1].strip() if len(parts) > 1 else ""
    cells["E-mail"] = "; ".join(str(item.value).strip() for item in values("email") if str(item.value).strip())
    mobiles: list[str] = []
    phones: list[str] = []
    for item in values("tel"):
        number = str(item.value).strip().removeprefix("tel:")
        if not number:
            continue
        types = {part.strip().lower() for t in item.params.get("TYPE", []) for part in str(t).split(",")}
        (mobiles if types & {"cell", "mobile"} else phones).append(number)
    cells["Mobile"] = "; ".join(mobiles)
    cells["Phone"] = "; ".join(phones)
    for item in values("org")[:1]:
        cells["Organisation"] = _join(item.value) if isinstance(item.value, list) else str(item.value).strip()
    for item in values("title")[:1]:
        cells["Job title"] = str(item.value).strip()
    for item in values("bday")[:1]:
        cells["Birthday"] = str(item.value).strip()
    for item in values("adr")[:1]:
        address = item.value
        parts = [
            getattr(address, key, "") for key in ("street", "extended", "city", "region", "code", "country", "box")
        ]
        cells["Address"] = ", ".join(_join(p) for p in parts if _join(p))
    for item in values("url")[:1]:
        cells["Website"] = str(item.value).strip()
    cells["Note"] = "\n".join(str(item.value).strip() for item in values("note") if str(item.value).strip())
    categories: list[str] = []
    for item in values("categories"):
        value = item.value
        categories.extend(str(v).strip() for v in (value if isinstance(value, list) else str(value).split(",")))
    cells["Categories"] = ", ".join(c for c in categories if c)
    return cells


def _join(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(v).strip() for v in value if str(v).strip())
    return str(value or "").strip()


READERS: dict[str, type[Reader]] = {"csv": CsvReader, "xlsx": XlsxReader, "vcard": VcardReader}


def open_reader(path: Path, file_format: str, encoding: str = "") -> Reader:
    """A reader for the stored file; UnreadableFileError when it cannot be read at all."""
    try:
        reader_class = READERS[file_format]
    except KeyError as exc:
        raise UnreadableFileError(_("Unknown file format: %(format)s") % {"format": file_format}) from exc
    return reader_class(path, encoding)
