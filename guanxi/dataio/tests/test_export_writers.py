"""The file writers on their own: exact bytes of CSV and vCard, XLSX cells read back."""

import io

from openpyxl import load_workbook

from guanxi.dataio.writers import (
    Card,
    ContactPoint,
    CsvWriter,
    PostalAddress,
    VCardWriter,
    XlsxWriter,
    csv_safe,
)


def test_csv_safe_quotes_formula_triggers_but_not_plain_numbers() -> None:
    assert csv_safe('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert csv_safe("+cmd|' /C calc'!A0") == "'+cmd|' /C calc'!A0"
    assert csv_safe("-2+3+cmd|x") == "'-2+3+cmd|x"
    assert csv_safe("@SUM(A1)") == "'@SUM(A1)"
    assert csv_safe("\t=1") == "'\t=1"
    assert csv_safe("+8613812345678") == "+8613812345678"
    assert csv_safe("-5") == "-5"
    assert csv_safe("诸葛明亮") == "诸葛明亮"
    assert csv_safe("a=b") == "a=b"


def test_csv_has_bom_crlf_and_quoting() -> None:
    stream = io.BytesIO()
    writer = CsvWriter(stream, ["Name", "Notes"])
    writer.write_rows([["诸葛明亮", '=1+1, "quoted"'], ["Li, Na", None], [42, 1.5]])
    writer.close()
    assert not stream.closed
    assert (
        stream.getvalue() == ('\ufeffName,Notes\r\n诸葛明亮,"\'=1+1, ""quoted"""\r\n"Li, Na",\r\n42,1.5\r\n').encode()
    )


def test_xlsx_keeps_text_exact_and_never_a_formula() -> None:
    stream = io.BytesIO()
    writer = XlsxWriter(stream, ["Name", "Phone", "Score", "Notes"], title="People")
    writer.write_rows(
        [["诸葛明亮", "+8613812345678", 42, '=HYPERLINK("http://evil")\x07'], ["", None, 2.5, "x" * 40_000]]
    )
    writer.close()
    sheet = load_workbook(io.BytesIO(stream.getvalue())).active
    assert sheet is not None
    assert sheet.title == "People"
    rows = [[(cell.value, cell.data_type) for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == [("Name", "s"), ("Phone", "s"), ("Score", "s"), ("Notes", "s")]
    assert rows[1] == [("诸葛明亮", "s"), ("+8613812345678", "s"), (42, "n"), ('=HYPERLINK("http://evil")', "s")]
    assert rows[2][:3] == [(None, "n"), (None, "n"), (2.5, "n")]
    assert rows[2][3][0] == "x" * 32_767


def test_vcard_person_and_organisation_exact() -> None:
    stream = io.BytesIO()
    writer = VCardWriter(stream)
    writer.write_cards(
        [
            Card(
                uid="guanxi-person-1",
                full_name="诸葛明亮",
                family_name="诸葛",
                given_name="明亮",
                organisations=["上海星云科技有限公司"],
                title="采购经理",
                emails=[ContactPoint("liang@example.cn", "work", True), ContactPoint("ml@example.com", "personal")],
                phones=[ContactPoint("+8613812345678", "mobile", True)],
                categories=["VIP", "华东"],
                note="喜欢喝茶; 周一联系",
                birthday="1990-05-01",
            ),
            Card(
                uid="guanxi-account-2",
                full_name="Acme, Inc.",
                is_organisation=True,
                phones=[ContactPoint("+862150001234", "work", True)],
                addresses=[PostalAddress(street="1 Main St", city="Shanghai", postal_code="200000", country="CN")],
                url="https://acme.example",
            ),
        ]
    )
    writer.close()
    assert stream.getvalue().decode() == (
        "BEGIN:VCARD\r\n"
        "VERSION:3.0\r\n"
        "UID:guanxi-person-1\r\n"
        "BDAY:1990-05-01\r\n"
        "CATEGORIES:VIP,华东\r\n"
        "EMAIL;TYPE=INTERNET,WORK,pref:liang@example.cn\r\n"
        "EMAIL;TYPE=INTERNET,HOME:ml@example.com\r\n"
        "FN:诸葛明亮\r\n"
        "N:诸葛;明亮;;;\r\n"
        "NOTE:喜欢喝茶\\; 周一联系\r\n"
        "ORG:上海星云科技有限公司\r\n"
        "TEL;TYPE=CELL,pref:+8613812345678\r\n"
        "TITLE:采购经理\r\n"
        "END:VCARD\r\n"
        "BEGIN:VCARD\r\n"
        "VERSION:3.0\r\n"
        "UID:guanxi-account-2\r\n"
        "ADR;TYPE=WORK:;;1 Main St;Shanghai;;200000;CN\r\n"
        "FN:Acme\\, Inc.\r\n"
        "N:;;;;\r\n"
        "ORG:Acme\\, Inc.\r\n"
        "TEL;TYPE=WORK,pref:+862150001234\r\n"
        "URL:https://acme.example\r\n"
        "X-ABSHOWAS:COMPANY\r\n"
        "END:VCARD\r\n"
    )


def test_vcard_folds_long_chinese_lines_without_splitting_characters() -> None:
    stream = io.BytesIO()
    VCardWriter(stream).write_cards([Card(uid="u", full_name="张伟", note="很长的备注" * 30)])
    lines = stream.getvalue().split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    text = stream.getvalue().decode()  # every line is valid UTF-8: no character was cut in two
    assert "NOTE:很长的备注" in text
