"""Reading files as real tools write them: encodings, Excel, vCard, and the header → field suggestions."""

import datetime
import io
from pathlib import Path

import openpyxl
import pytest

from guanxi.core.models import AttributeDefinition
from guanxi.dataio import mapping, readers
from guanxi.dataio.services.importing import parse_date, split_name, split_values

GOOGLE_HEADER = (
    "Name,Given Name,Additional Name,Family Name,Yomi Name,Given Name Yomi,Additional Name Yomi,Family Name Yomi,"
    "Name Prefix,Name Suffix,Initials,Nickname,Short Name,Maiden Name,Birthday,Gender,Location,Billing Information,"
    "Directory Server,Mileage,Occupation,Hobby,Sensitivity,Priority,Subject,Notes,Language,Photo,Group Membership,"
    "E-mail 1 - Type,E-mail 1 - Value,E-mail 2 - Type,E-mail 2 - Value,Phone 1 - Type,Phone 1 - Value,"
    "Phone 2 - Type,Phone 2 - Value,Organization 1 - Type,Organization 1 - Name,Organization 1 - Title"
)
OUTLOOK_HEADER = (
    "First Name,Middle Name,Last Name,Title,Suffix,Nickname,Given Yomi,Surname Yomi,E-mail Address,E-mail 2 Address,"
    "E-mail 3 Address,Home Phone,Home Phone 2,Business Phone,Business Phone 2,Mobile Phone,Car Phone,Other Phone,"
    "Primary Phone,Pager,Business Fax,Home Fax,Other Fax,Company Main Phone,Callback,Radio Phone,Telex,TTY/TDD Phone,"
    "IMAddress,Job Title,Department,Company,Office Location,Manager's Name,Assistant's Name,Assistant's Phone,"
    "Company Yomi,Business Street,Business City,Business State,Business Postal Code,Business Country/Region,"
    "Home Street,Home City,Home State,Home Postal Code,Home Country/Region,Other Street,Other City,Other State,"
    "Other Postal Code,Other Country/Region,Personal Web Page,Spouse,Schools,Hobby,Location,Web Page,Birthday,"
    "Anniversary,Notes,Categories"
)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- encodings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("姓名,手机\n张伟,13812345678\n".encode("gb18030"), "gb18030"),
        ("姓名,手机\n张伟,13812345678\n".encode("gbk"), "gb18030"),
        ("\ufeffname,email\nJosé,j@example.com\n".encode(), "utf-8-sig"),
        ("name,email\nJosé,j@example.com\n".encode(), "utf-8"),
        ("name,email\nJürgen Müller,j@example.com\nFrançois,f@example.com\n".encode("cp1252"), "cp1252"),
        ("name,email\nZoë “quoted”,z@example.com\n".encode("cp1252"), "cp1252"),
        ("name\tphone\nAda\t+441234\n".encode("utf-16"), "utf-16"),
    ],
)
def test_decode_tells_encodings_apart(data: bytes, encoding: str) -> None:
    text, found = readers.decode(data)
    assert found == encoding
    assert text.lstrip("\ufeff").split("\n")[0].split("\t" if "\t" in text else ",")[0] == (
        "姓名" if "姓名" in text else "name"
    )


def test_latin1_bytes_are_not_mistaken_for_chinese() -> None:
    text, encoding = readers.decode("Müller;Gérard;Ærø\n".encode("latin-1"))
    assert encoding == "cp1252"
    assert text == "Müller;Gérard;Ærø\n"


def test_binary_garbage_is_refused_with_a_clear_message() -> None:
    with pytest.raises(readers.UnreadableFileError, match="not text"):
        readers.decode(bytes(range(256)) * 4)
    garbage = bytes((i * 37 + 11) % 255 + 1 for i in range(3000))  # no NUL, full of control bytes
    with pytest.raises(readers.UnreadableFileError, match="encoding is not one we can read"):
        readers.decode(garbage)


def test_csv_reader_gives_lines_as_the_file_numbers_them(tmp_path: Path) -> None:
    data = b'name;notes\n"Ada";"two\nlines"\n\n;\nBob;x\n'
    reader = readers.CsvReader(_write(tmp_path, "a.csv", data))
    assert reader.columns == ["name", "notes"]
    assert reader.delimiter == ";"
    rows = list(reader.rows())
    assert [(r.line, r.cells) for r in rows] == [
        (2, {"name": "Ada", "notes": "two\nlines"}),
        (6, {"name": "Bob", "notes": "x"}),
    ]
    assert reader.count() == 2


def test_csv_header_repeats_and_blanks_get_names(tmp_path: Path) -> None:
    reader = readers.CsvReader(_write(tmp_path, "a.csv", b"Phone,,Phone\n1,2,3\n"))
    assert reader.columns == ["Phone", "Column 2", "Phone (2)"]


@pytest.mark.parametrize(
    ("data", "message"), [(b"", "empty"), (b"\n\n", "empty"), (b",,\n1,2,3\n", "name the columns")]
)
def test_csv_without_header_is_refused(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(readers.UnreadableFileError, match=message):
        readers.CsvReader(_write(tmp_path, "a.csv", data))


# -- formats -----------------------------------------------------------------------------------


def test_detect_format_by_content_first() -> None:
    assert readers.detect_format("people.csv", b"PK\x03\x04rest") == "xlsx"
    assert readers.detect_format("people.txt", b"BEGIN:VCARD\r\nVERSION:3.0") == "vcard"
    assert readers.detect_format("people.vcf", b"\xef\xbb\xbfBEGIN:VCARD") == "vcard"
    assert readers.detect_format("people.xlsx", b"garbage") == "xlsx"
    assert readers.detect_format("people.csv", b"name,email") == "csv"


def _xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_cells_arrive_as_the_text_a_user_sees(tmp_path: Path) -> None:
    data = _xlsx(
        [
            ["姓名", "手机", "生日", "备注", None],
            ["张伟", 13812345678, datetime.datetime(1990, 5, 3), '=HYPERLINK("http://x")'],
            [None, None, None, None],
            ["李娜", "+86 139 1234 5678", 1.5, True],
        ]
    )
    reader = readers.XlsxReader(_write(tmp_path, "a.xlsx", data))
    assert reader.columns == ["姓名", "手机", "生日", "备注"]
    assert [(r.line, r.cells) for r in reader.rows()] == [
        (2, {"姓名": "张伟", "手机": "13812345678", "生日": "1990-05-03", "备注": '=HYPERLINK("http://x")'}),
        (4, {"姓名": "李娜", "手机": "+86 139 1234 5678", "生日": "1.5", "备注": "TRUE"}),
    ]


def test_truncated_xlsx_is_refused(tmp_path: Path) -> None:
    data = _xlsx([["name"], ["Ada"]])
    with pytest.raises(readers.UnreadableFileError, match="damaged or incomplete"):
        readers.XlsxReader(_write(tmp_path, "a.xlsx", data[: len(data) // 2]))


VCARD_3 = """BEGIN:VCARD\r
VERSION:3.0\r
N:Zhang;Wei;;;\r
FN:Wei Zhang\r
ORG:Acme Ltd;Sales\r
TITLE:Buyer\r
EMAIL;TYPE=INTERNET,WORK:Wei.Zhang@Example.com\r
EMAIL;TYPE=INTERNET,HOME:wei@example.net\r
TEL;TYPE=CELL:+86 138 1234 5678\r
TEL;TYPE=WORK,VOICE:010 6552 9988\r
BDAY:1990-05-03\r
NOTE:Met at the trade show\r
CATEGORIES:VIP,Trade show 2025\r
END:VCARD\r
BEGIN:VCARD\r
VERSION:3.0\r
FN:李娜\r
N:李;娜;;;\r
TEL;TYPE=cell:13912345678\r
END:VCARD\r
"""

VCARD_4 = """BEGIN:VCARD
VERSION:4.0
FN:Ada Lovelace
N:Lovelace;Ada;;;
EMAIL;TYPE=work:ada@example.org
TEL;VALUE=uri;TYPE="cell,voice":tel:+44-7400-123456
BDAY:18151210
ADR;TYPE=work:;;12 St James's Square;London;;SW1Y 4JH;United Kingdom
URL:https://example.org/ada
END:VCARD
"""


def test_vcard_3_cards_become_rows(tmp_path: Path) -> None:
    reader = readers.VcardReader(_write(tmp_path, "a.vcf", VCARD_3.encode()))
    rows = list(reader.rows())
    assert [r.line for r in rows] == [1, 15]
    first = rows[0].cells
    assert first["Full name"] == "Wei Zhang"
    assert (first["Family name"], first["Given name"]) == ("Zhang", "Wei")
    assert first["E-mail"] == "Wei.Zhang@Example.com; wei@example.net"
    assert first["Mobile"] == "+86 138 1234 5678"
    assert first["Phone"] == "010 6552 9988"
    assert first["Organisation"] == "Acme Ltd Sales"
    assert first["Job title"] == "Buyer"
    assert first["Birthday"] == "1990-05-03"
    assert first["Categories"] == "VIP, Trade show 2025"
    assert rows[1].cells["Family name"] == "李"


def test_vcard_4_card_becomes_a_row(tmp_path: Path) -> None:
    reader = readers.VcardReader(_write(tmp_path, "a.vcf", VCARD_4.encode()))
    (row,) = list(reader.rows())
    assert row.cells["Mobile"] == "+44-7400-123456"
    assert row.cells["Birthday"] == "18151210"
    assert row.cells["Address"] == "12 St James's Square, London, SW1Y 4JH, United Kingdom"
    assert row.cells["Website"] == "https://example.org/ada"


# -- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("1990-05-03", datetime.date(1990, 5, 3)),
        ("1990/5/3", datetime.date(1990, 5, 3)),
        ("1990.5.3", datetime.date(1990, 5, 3)),
        ("1990年5月3日", datetime.date(1990, 5, 3)),
        ("19900503", datetime.date(1990, 5, 3)),
        ("5/3/1990", datetime.date(1990, 5, 3)),
        ("25/3/1990", datetime.date(1990, 3, 25)),
        ("1990-05-03 00:00:00", datetime.date(1990, 5, 3)),
    ],
)
def test_parse_date_reads_common_formats(text: str, date: datetime.date) -> None:
    assert parse_date(text) == date


@pytest.mark.parametrize("text", ["1990-13-01", "--05-03", "yesterday", "3 May"])
def test_parse_date_refuses_others(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_date(text)


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("张伟", ("张", "伟")),
        ("诸葛亮", ("诸葛", "亮")),
        ("欧阳 娜娜", ("欧阳", "娜娜")),
        ("Wei Zhang", ("Zhang", "Wei")),
        ("Zhang, Wei", ("Zhang", "Wei")),
        ("Mary Ann Smith", ("Smith", "Mary Ann")),
        ("Cher", ("", "Cher")),
    ],
)
def test_split_name(name: str, parts: tuple[str, str]) -> None:
    assert split_name(name) == parts


def test_split_values() -> None:
    assert split_values("a@x.cn; b@x.cn ::: c@x.cn") == ["a@x.cn", "b@x.cn", "c@x.cn"]
    assert split_values("VIP、老客户，展会") == ["VIP", "老客户", "展会"]


# -- mapping suggestions ----------------------------------------------------------------------


def test_chinese_headers_are_suggested(db: None) -> None:
    columns = ["姓名", "手机", "电话", "邮箱", "公司", "职位", "生日", "备注", "标签", "负责人", "其他"]
    assert mapping.suggest_mapping("person", columns) == {
        "姓名": "full_name",
        "手机": "mobile",
        "电话": "phone",
        "邮箱": "email",
        "公司": "company",
        "职位": "job_title",
        "生日": "birthday",
        "备注": "notes",
        "标签": "tags",
        "负责人": "owner",
        "其他": "",
    }
    assert mapping.suggest_mapping("person", ["姓", "名", "电子邮件"]) == {
        "姓": "family_name",
        "名": "given_name",
        "电子邮件": "email",
    }
    assert mapping.suggest_mapping("account", ["公司名称", "统一社会信用代码", "官网", "地址", "城市"]) == {
        "公司名称": "name",
        "统一社会信用代码": "registration_number",
        "官网": "website",
        "地址": "address",
        "城市": "city",
    }


def test_google_contacts_headers_are_suggested(db: None) -> None:
    suggestion = mapping.suggest_mapping("person", GOOGLE_HEADER.split(","))
    picked = {column: key for column, key in suggestion.items() if key}
    assert picked == {
        "Name": "full_name",
        "Given Name": "given_name",
        "Family Name": "family_name",
        "Birthday": "birthday",
        "Notes": "notes",
        "Language": "preferred_language",
        "Group Membership": "tags",
        "E-mail 1 - Value": "email",
        "E-mail 2 - Value": "email_2",
        "Phone 1 - Value": "mobile",
        "Phone 2 - Value": "phone",
        "Organization 1 - Name": "company",
        "Organization 1 - Title": "job_title",
    }


def test_outlook_headers_are_suggested(db: None) -> None:
    suggestion = mapping.suggest_mapping("person", OUTLOOK_HEADER.split(","))
    picked = {column: key for column, key in suggestion.items() if key}
    assert picked == {
        "First Name": "given_name",
        "Last Name": "family_name",
        "E-mail Address": "email",
        "E-mail 2 Address": "email_2",
        "E-mail 3 Address": "email_3",
        "Home Phone": "home_phone",
        "Business Phone": "phone",
        "Mobile Phone": "mobile",
        "Other Phone": "other_phone",
        "Job Title": "job_title",
        "Company": "company",
        "Birthday": "birthday",
        "Notes": "notes",
        "Categories": "tags",
    }


def test_custom_attributes_are_suggested_by_key_or_label(db: None) -> None:
    AttributeDefinition.objects.create(target="person", key="shoe_size", label="鞋码", data_type="number")
    assert mapping.suggest_mapping("person", ["鞋码", "Shoe size"]) == {"鞋码": "attr:shoe_size", "Shoe size": ""}
    assert ("attr:shoe_size", "Custom attribute: 鞋码") in mapping.importable_fields("person")


def test_vcard_columns_are_suggested(db: None) -> None:
    suggestion = mapping.suggest_mapping("person", list(readers.VCARD_COLUMNS))
    assert suggestion == {
        "Full name": "full_name",
        "Family name": "family_name",
        "Given name": "given_name",
        "E-mail": "email",
        "Mobile": "mobile",
        "Phone": "phone",
        "Organisation": "company",
        "Job title": "job_title",
        "Birthday": "birthday",
        "Address": "",
        "Website": "",
        "Note": "notes",
        "Categories": "tags",
    }
