"""Spreadsheets: XLSX export and import, CSV for Russian-locale Excel (`;`, decimal comma, windows-1251), the
formula guard both ways, and the files an import must refuse with a clear 4xx: malformed, oversized, zip bombs.

tests/files/*_excel_ru.csv are saved as Excel in a Russian locale saves CSV: windows-1251, `;`, a decimal comma,
CRLF line ends, quotes only where needed, no byte order mark."""
import glob
import io
import os
import struct
import tempfile
import time
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from conftest import dispose_app, in_app, make_app_like, make_client, make_tracking
from tracker_api.extensions import db
from tracker_api.models import Client, TrackingNumber
from tracker_api.serialization.spreadsheets import XLSX_TYPE, guard, unguard

FILES = Path(__file__).parent / "files"


def import_body(http, tenant, resource, body, content_type):
    return http.post(f"/api/v1/{resource}/{tenant.bot_id}/import", data=body, content_type=content_type,
                     headers=tenant.headers)


def parcels(app, bot_id):
    return in_app(app, lambda: {row.tracking_number: row for row in db.session.scalars(
        db.select(TrackingNumber).filter_by(bot_id=bot_id))})


def clients(app, bot_id):
    return in_app(app, lambda: {row.client_code: (row.name, row.phone, row.telegram_username, row.telegram_id)
                                for row in db.session.scalars(db.select(Client).filter_by(bot_id=bot_id))})


def workbook_bytes(rows):
    """An XLSX file as a person makes one in a spreadsheet (openpyxl's normal mode, typed cells)."""
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def with_part(xlsx, name, content, compression=zipfile.ZIP_DEFLATED):
    """`xlsx` with its part `name` replaced by `content`."""
    source, target = zipfile.ZipFile(io.BytesIO(xlsx)), io.BytesIO()
    with zipfile.ZipFile(target, "w", compression) as archive:
        for entry in source.infolist():
            archive.writestr(entry.filename, content if entry.filename == name else source.read(entry.filename))
    return target.getvalue()


def declared_size(xlsx, name, size):
    """`xlsx` whose directory (central and local) claims `name` unpacks to `size` bytes: a lying zip bomb."""
    data = bytearray(xlsx)
    encoded = name.encode()
    for signature, size_at, name_at in ((b"PK\x01\x02", 24, 46), (b"PK\x03\x04", 22, 30)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            if data[start + name_at:start + name_at + len(encoded)] == encoded:
                data[start + size_at:start + size_at + 4] = struct.pack("<I", size)
            start += 4
    return bytes(data)


SHEET = "xl/worksheets/sheet1.xml"
SHEET_XML = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             'spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>')


def text_row(number, *texts):
    cells = "".join(f'<c r="{chr(65 + column)}{number}" t="inlineStr"><is><t>{text}</t></is></c>'
                    for column, text in enumerate(texts))
    return f'<row r="{number}">{cells}</row>'


# --- the formula guard ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["=1+1", "+7 (701) 123-45-67", "-5", "-5 kg", "@x", "\t=1", "\r=1", "'", "''",
                                  "'=1", "''=1", "'abc", "abc", "", "+77011234567", "-42", "1.5", "Ёж"])
def test_the_import_undoes_exactly_the_guard_the_export_adds(text):
    assert unguard(guard(text)) == text


def test_a_quote_typed_before_ordinary_text_is_kept_on_import():
    assert unguard("'abc") == "'abc"
    assert unguard("'+7 (701) 123-45-67") == "+7 (701) 123-45-67"  # an old export's guard, taken off


# --- XLSX export ----------------------------------------------------------------------------------------------

def test_xlsx_export_writes_numbers_as_numbers_and_identifiers_as_text(app, http, tenant):
    make_tracking(app, tenant.bot_id, tracking_number="00123", note="=HYPERLINK(\"http://evil.example\")",
                  weight_kg=Decimal("10.5"), quantity=5)
    make_client(app, tenant.bot_id, "CLIENT123", telegram_id=123456789012, phone="+7 (701) 123-45-67")

    tracking = http.get(f"/api/v1/export/{tenant.bot_id}/tracking?format=xlsx", headers=tenant.headers)
    client_list = http.get(f"/api/v1/export/{tenant.bot_id}/clients", headers={**tenant.headers, "Accept": XLSX_TYPE})

    assert tracking.status_code == client_list.status_code == 200
    assert tracking.content_type == XLSX_TYPE
    assert tracking.headers["Content-Disposition"] == f'attachment; filename="tracking-{tenant.bot_id}.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(tracking.get_data())).active
    header, row = [cell.value for cell in sheet[1]], {cell.column_letter: cell for cell in sheet[2]}
    cells = dict(zip(header, row.values()))
    assert header[:5] == ["id", "tracking_number", "client_code", "current_status", "quantity"]
    assert (cells["tracking_number"].value, cells["tracking_number"].data_type) == ("00123", "s")
    assert (cells["quantity"].value, cells["quantity"].data_type) == (5, "n")
    assert (cells["weight_kg"].value, cells["weight_kg"].number_format) == (10.5, "0.000")
    assert (cells["total_cost_usd"].value, cells["total_cost_usd"].number_format) == (150, "0.00")
    assert (cells["note"].value, cells["note"].data_type) == ("=HYPERLINK(\"http://evil.example\")", "s")
    assert b"<f>" not in zipfile.ZipFile(io.BytesIO(tracking.get_data())).read(SHEET)  # no formula anywhere
    client_cells = dict(zip([cell.value for cell in openpyxl.load_workbook(io.BytesIO(client_list.get_data()))
                             .active[1]], openpyxl.load_workbook(io.BytesIO(client_list.get_data())).active[2]))
    assert (client_cells["telegram_id"].value, client_cells["telegram_id"].data_type) == ("123456789012", "s")
    assert client_cells["phone"].value == "+7 (701) 123-45-67"  # typed cells: no guard quote


def test_xlsx_export_of_many_rows_is_sent_in_chunks_and_leaves_no_temporary_file(app, http, tenant):
    def many():
        for n in range(2500):  # three export batches
            db.session.add(TrackingNumber(bot_id=tenant.bot_id, tracking_number=f"BULK{n:05d}",
                                          client_code="CLIENT123", status="pending", quantity=1, change_seq=n + 1))
        db.session.commit()
    in_app(app, many)
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "openpyxl.*")))

    response = http.get(f"/api/v1/export/{tenant.bot_id}/tracking?format=xlsx", headers=tenant.headers,
                        buffered=False)
    chunks = list(response.response)
    response.close()

    assert len(chunks) > 1 and all(chunks)
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(chunks)), read_only=True).worksheets[0]
    assert sum(1 for _ in sheet.iter_rows(values_only=True)) == 2501
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "openpyxl.*"))) <= before


def test_an_xlsx_export_cut_short_removes_its_temporary_file(app, http, tenant):
    make_tracking(app, tenant.bot_id)
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "openpyxl.*")))
    response = http.get(f"/api/v1/export/{tenant.bot_id}/tracking?format=xlsx", headers=tenant.headers,
                        buffered=False)
    body = iter(response.response)
    next(body)  # the export has run: its sheet was written to a temporary file
    response.close()
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "openpyxl.*"))) <= before


# --- CSV for Russian-locale Excel --------------------------------------------------------------------------------

def test_csv_export_with_semicolons_writes_a_decimal_comma(app, http, tenant):
    make_tracking(app, tenant.bot_id, weight_kg=Decimal("10.5"), note="Хрупкое; стекло")
    response = http.get(f"/api/v1/export/{tenant.bot_id}/tracking?format=csv&delimiter=semicolon&bom=true",
                        headers=tenant.headers)
    lines = response.get_data().decode("utf-8").splitlines()
    assert lines[0] == "\ufeffid;tracking_number;client_code;current_status;quantity;weight_kg;price_per_kg_usd;" \
                       "total_cost_usd;note;created_at;updated_at"
    assert ";10,500;14,29;150,00;\"Хрупкое; стекло\";" in lines[1]
    bad = http.get(f"/api/v1/export/{tenant.bot_id}/tracking?delimiter=pipe", headers=tenant.headers)
    assert bad.status_code == 422 and "delimiter" in bad.get_json()["errors"]


@pytest.mark.parametrize("content_type", ["text/csv", "text/csv; charset=windows-1251", "text/csv; charset=cp1251"])
def test_a_csv_saved_by_russian_excel_imports(app, http, tenant, content_type):
    tracking = import_body(http, tenant, "tracking", (FILES / "tracking_excel_ru.csv").read_bytes(), content_type)
    client_rows = import_body(http, tenant, "clients", (FILES / "clients_excel_ru.csv").read_bytes(), content_type)

    assert tracking.status_code == 200, tracking.get_json()
    assert client_rows.status_code == 200, client_rows.get_json()
    stored = parcels(app, tenant.bot_id)
    assert (stored["RU-0001"].weight_kg, stored["RU-0001"].price_per_kg_usd, stored["RU-0001"].total_cost_usd) == \
        (Decimal("10.5"), Decimal("14.29"), Decimal("150.05"))
    assert stored["RU-0001"].note == "Хрупкое; стекло"
    assert stored["RU/0002"].note == "Верх не кантовать, №5"
    assert stored["RU.0003"].note == "Ёлочные игрушки «люкс»" and stored["RU.0003"].status == "delivered"
    assert clients(app, tenant.bot_id) == {
        "CLIENT123": ("Алия Нурланова", "+7 (701) 123-45-67", "aliya_n", 512345678),
        "CLIENT124": ("Пётр Ёжиков", "+77011234567", None, None)}


@pytest.mark.parametrize("encoding, bom", [("utf-8", ""), ("utf-8", "\ufeff"), ("cp1251", "")])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_import_detects_the_delimiter_and_the_encoding(app, http, tenant, encoding, bom, delimiter):
    text = bom + delimiter.join(["client_code", "name", "phone"]) + "\r\n" + \
        delimiter.join(["CLIENT1", "Алия", "'+7 (701) 123-45-67"]) + "\r\n"
    response = import_body(http, tenant, "clients", text.encode(encoding), "text/csv")
    assert response.status_code == 200, response.get_json()
    assert clients(app, tenant.bot_id) == {"CLIENT1": ("Алия", "+7 (701) 123-45-67", None, None)}


def test_a_csv_it_cannot_read_says_which_delimiter_and_encoding_it_tried(app, http, tenant):
    piped = import_body(http, tenant, "clients", "client_code|name\r\nC1|Алия\r\n".encode("cp1251"), "text/csv")
    undecodable = import_body(http, tenant, "clients", b"client_code\r\n\x98\r\n", "text/csv")
    misdeclared = import_body(http, tenant, "clients", "client_code,name\r\nC1,Алия\r\n".encode("cp1251"),
                              "text/csv; charset=utf-8")
    unknown_charset = import_body(http, tenant, "clients", b"client_code\r\nC1\r\n", "text/csv; charset=klingon")

    assert piped.status_code == 422 and piped.content_type == "application/problem+json"
    problem = piped.get_json()
    assert (problem["encoding"], problem["delimiter"], problem["unknown_columns"]) == \
        ("windows-1251", ",", ["client_code|name"])
    assert "read as windows-1251 with comma (',')" in problem["detail"]
    assert undecodable.status_code == 400 and "utf-8 or windows-1251" in undecodable.get_json()["detail"]
    assert misdeclared.status_code == 400 and "utf-8" in misdeclared.get_json()["detail"]
    assert unknown_charset.status_code == 400 and "klingon" in unknown_charset.get_json()["detail"]
    for codec in ("zlib", "rot13", "undefined", "punycode"):  # Python codecs that are no CSV charsets
        response = import_body(http, tenant, "clients", b"client_code\r\nC1\r\n", f"text/csv; charset={codec}")
        assert response.status_code == 400 and "Unknown charset" in response.get_json()["detail"], codec
    assert clients(app, tenant.bot_id) == {}


def test_an_exported_column_and_its_field_together_are_a_row_error(app, http, tenant):
    response = import_body(http, tenant, "tracking", b"tracking_number,client_code,status,current_status\r\n"
                                                     b"A1,C1,pending,delivered\r\n", "text/csv")
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"row 1": {"current_status": ["Give status or current_status, not both."]}}


# --- XLSX import --------------------------------------------------------------------------------------------------

def test_an_xlsx_made_in_a_spreadsheet_imports_with_its_typed_cells(app, http, tenant):
    body = workbook_bytes([
        ["tracking_number", "client_code", "status", "quantity", "weight_kg", "price_per_kg_usd", "note"],
        [123456, "CLIENT123", "in_transit", 2.0, 10.5, 14.29, "Хрупкое"],  # a number typed where text belongs
        ["AB/1", "CLIENT123", None, 1, 0.1, None, "-not a formula"],
        [None, None, None, None, None, None, None],  # an empty row in the middle
        ["AB/2", "CLIENT124", "delivered", 3, None, None, None],
    ])
    response = import_body(http, tenant, "tracking", body, XLSX_TYPE)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["counts"]["created"] == 3
    stored = parcels(app, tenant.bot_id)
    assert (stored["123456"].quantity, stored["123456"].weight_kg, stored["123456"].price_per_kg_usd,
            stored["123456"].total_cost_usd) == (2, Decimal("10.5"), Decimal("14.29"), Decimal("150.05"))
    assert stored["AB/1"].weight_kg == Decimal("0.1") and stored["AB/1"].note == "-not a formula"
    assert stored["AB/2"].status == "delivered"


def test_an_xlsx_of_clients_with_a_numeric_telegram_id_and_an_unknown_column(app, http, tenant):
    good = workbook_bytes([["client_code", "name", "telegram_id"], ["CLIENT1", "Алия", 512345678]])
    unknown = workbook_bytes([["client_code", "Имя"], ["CLIENT2", "Пётр"]])

    assert import_body(http, tenant, "clients", good, XLSX_TYPE).status_code == 200
    refused = import_body(http, tenant, "clients", unknown, XLSX_TYPE)
    assert refused.status_code == 422 and refused.get_json()["unknown_columns"] == ["Имя"]
    assert "first sheet" in refused.get_json()["detail"]
    assert clients(app, tenant.bot_id) == {"CLIENT1": ("Алия", None, None, 512345678)}


MINIMAL = workbook_bytes([["client_code"], ["CLIENT1"]])


def test_a_formula_cell_is_read_as_the_value_excel_last_computed(app, http, tenant):
    rows = (text_row(1, "tracking_number", "client_code", "quantity")
            + '<row r="2"><c r="A2" t="inlineStr"><is><t>F0001</t></is></c>'
              '<c r="B2" t="str"><f>"CLIENT"&amp;"123"</f><v>CLIENT123</v></c><c r="C2"><f>1+1</f><v>2</v></c></row>')
    body = with_part(MINIMAL, SHEET, SHEET_XML.format(rows=rows).encode())
    response = import_body(http, tenant, "tracking", body, XLSX_TYPE)
    assert response.status_code == 200, response.get_json()
    assert (parcels(app, tenant.bot_id)["F0001"].client_code, parcels(app, tenant.bot_id)["F0001"].quantity) == \
        ("CLIENT123", 2)


@pytest.mark.parametrize("body, status, says", [
    (b"not a zip at all", 400, "not a ZIP archive"),
    (b"PK\x03\x04" + b"\0" * 100, 400, "not a ZIP archive"),
    (MINIMAL[: len(MINIMAL) // 2], 400, "not a ZIP archive"),  # cut off: no directory
    (with_part(MINIMAL, SHEET, b"<worksheet><sheetData><row>"), 400, "Not a readable XLSX"),  # broken XML
    (with_part(MINIMAL, "[Content_Types].xml", b"garbage"), 400, "Not a readable XLSX"),
    (with_part(MINIMAL, SHEET, SHEET_XML.format(rows=text_row(1, "client_code") + text_row(1_000_000_000, "C1"))
               .encode()), 413, "more than"),  # a row number far down: every empty row before it counts
], ids=["text", "zip-header-only", "truncated", "broken-sheet-xml", "broken-content-types", "far-row"])
def test_a_malformed_xlsx_is_a_clear_4xx(app, http, tenant, body, status, says):
    response = import_body(http, tenant, "clients", body, XLSX_TYPE)
    assert response.status_code == status, response.get_json()
    assert response.content_type == "application/problem+json"
    assert says in response.get_json()["detail"]


def test_a_zip_bomb_is_refused_from_its_directory_before_any_xml_is_parsed(app, http, tenant):
    """64 MB of sheet XML deflates to about 64 KB: within the body limit, far past what an import unpacks."""
    padding = " " * (64 * 1024 * 1024)
    bomb = with_part(MINIMAL, SHEET, SHEET_XML.format(rows=text_row(1, "client_code") + padding).encode())
    assert len(bomb) < 1024 * 1024

    started = time.monotonic()
    response = import_body(http, tenant, "clients", bomb, XLSX_TYPE)

    assert response.status_code == 413 and response.content_type == "application/problem+json"
    assert "unpacks to" in response.get_json()["detail"]
    assert time.monotonic() - started < 2  # nothing was inflated


def test_a_part_packed_more_than_a_hundredfold_is_refused_as_a_zip_bomb(app, http, tenant):
    """Within the unpacked limit (6.5 MiB of 8), but XML made to be unpacked: 400,000 one-letter shared strings
    would cost openpyxl seconds to parse. The file is 3% of the body limit."""
    strings = ('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
               + "<si><t>a</t></si>" * 400_000 + "</sst>").encode()
    target = io.BytesIO(MINIMAL)
    with zipfile.ZipFile(target, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", strings)
    assert len(target.getvalue()) < 32 * 1024

    started = time.monotonic()
    response = import_body(http, tenant, "clients", target.getvalue(), XLSX_TYPE)

    assert response.status_code == 413 and "more than 100 times" in response.get_json()["detail"]
    assert time.monotonic() - started < 2


def test_a_zip_bomb_that_understates_its_size_fails_at_the_declared_size(app, http, tenant):
    """The directory says 2 KB; the part holds 8 MB. zipfile stops at the declared size (and the CRC fails),
    so no more than that is ever inflated."""
    rows = text_row(1, "client_code") + "".join(text_row(n, f"C{n}") for n in range(2, 5)) + " " * (8 * 1024 * 1024)
    liar = declared_size(with_part(MINIMAL, SHEET, SHEET_XML.format(rows=rows).encode()), SHEET, 2048)
    response = import_body(http, tenant, "clients", liar, XLSX_TYPE)
    assert response.status_code == 400 and "Not a readable XLSX" in response.get_json()["detail"]
    assert clients(app, tenant.bot_id) == {}


def test_an_entity_expansion_bomb_in_the_sheet_xml_is_refused(app, http, tenant):
    entities = '<!DOCTYPE lolz [<!ENTITY lol "lolololololololololol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol%s;" % (n - 1 if n > 1 else "")) * 10}">' for n in range(1, 10)) + "]>"
    xml = SHEET_XML.format(rows=text_row(1, "client_code") + text_row(2, "&lol9;"))
    bomb = with_part(MINIMAL, SHEET, xml.replace("?>", "?>" + entities, 1).encode())
    response = import_body(http, tenant, "clients", bomb, XLSX_TYPE)
    assert response.status_code == 400 and "Not a readable XLSX" in response.get_json()["detail"]
    assert clients(app, tenant.bot_id) == {}


def test_an_xlsx_with_more_rows_than_the_maximum_is_a_413(app, tenant):
    small = make_app_like(app, IMPORT_MAX_ROWS=3)
    try:
        body = workbook_bytes([["client_code"], *([f"CLIENT{n}"] for n in range(4))])
        response = import_body(small.test_client(), tenant, "clients", body, XLSX_TYPE)
        assert response.status_code == 413 and response.get_json()["max_rows"] == 3
    finally:
        dispose_app(small)


def test_the_unpacked_size_limit_is_configurable(app, tenant):
    small = make_app_like(app, IMPORT_MAX_XLSX_UNPACKED_BYTES=1000)
    try:
        response = import_body(small.test_client(), tenant, "clients", MINIMAL, XLSX_TYPE)
        assert response.status_code == 413 and "at most 1000" in response.get_json()["detail"]
    finally:
        dispose_app(small)


def test_ndjson_import_reports_the_line_of_bad_json(app, http, tenant):
    body = b'{"client_code": "C1"}\n\n{"client_code": \n'
    response = import_body(http, tenant, "clients", body, "application/x-ndjson")
    assert response.status_code == 400 and "line 3" in response.get_json()["detail"]


def test_an_xlsx_export_past_its_row_limit_is_a_422_before_any_body(app, tenant):
    """An XLSX is sent only when complete: past EXPORT_XLSX_MAX_ROWS the wait for its first byte would outlast a
    proxy's timeout, so it is refused up front; CSV streams and has no such limit."""
    small = make_app_like(app, EXPORT_XLSX_MAX_ROWS=2)
    try:
        for number, status in (("A1", "pending"), ("A2", "pending"), ("A3", "delivered")):
            make_tracking(app, tenant.bot_id, tracking_number=number, status=status)
        http = small.test_client()
        refused = http.get(f"/api/v1/export/{tenant.bot_id}/tracking?format=xlsx", headers=tenant.headers)
        filtered = http.get(f"/api/v1/export/{tenant.bot_id}/tracking?format=xlsx&status_filter=pending",
                            headers=tenant.headers)
        streamed = http.get(f"/api/v1/export/{tenant.bot_id}/tracking?format=csv", headers=tenant.headers)

        assert refused.status_code == 422 and refused.content_type == "application/problem+json"
        assert (refused.get_json()["max_rows"], refused.get_json()["rows"]) == (2, 3)
        assert "format=csv" in refused.get_json()["detail"]
        assert filtered.status_code == 200 and filtered.content_type == XLSX_TYPE
        assert streamed.status_code == 200 and len(streamed.get_data().splitlines()) == 4
    finally:
        dispose_app(small)
