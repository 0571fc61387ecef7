"""How exported records become bytes: CSV (RFC 4180, safe to open in a spreadsheet), NDJSON (the API's JSON) or
XLSX (a workbook, typed cells).

All take the resource's own API schema, so an export has the fields, names and values a GET returns. CSV
differs in two ways only: decimals are the stored exact values with their fixed places (`10.500`, `150.00`;
with a decimal comma when the columns are split by semicolons) rather than JSON numbers, and null is an empty
cell. XLSX writes numbers as numbers and text (tracking numbers, codes, telegram ids) as text.
"""
import csv
import io
import json
import tempfile
from decimal import Decimal

import marshmallow as ma
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ...serialization import dumping
from ...serialization.spreadsheets import XLSX_TYPE, guard, ooxml_escape

BYTE_ORDER_MARK = "\ufeff"
DELIMITERS = {"comma": ",", "semicolon": ";"}
CHUNK_BYTES = 64 * 1024
# Integers that are identifiers, not quantities: as text, so a spreadsheet neither sums nor rounds them
# (Excel shows a 12-digit number as 1.23E+11).
TEXT_INTEGERS = {"telegram_id"}


def exact_rows(schema, records):
    """Each record as a list of the schema's values, decimals as the exact stored Decimal (not the float the
    JSON schema dumps)."""
    exact = {name: field.attribute or name for name, field in schema.fields.items()
             if isinstance(field, ma.fields.Decimal)}
    dumped = dumping.dump(schema, records, many=True)
    return [[getattr(record, exact[name]) if name in exact else data[name] for name in schema.fields]
            for record, data in zip(records, dumped)]


class Encoder:
    """An export body: header(), then encode() for each batch of records, then the trailer()'s chunks; close()
    whether or not the body was sent to the end. `bom` and `delimiter` are for CSV only."""

    sent_when_complete = False  # True: nothing can be sent before the last record is in

    def __init__(self, schema, name="export", bom=False, delimiter="comma"):
        self.schema = schema

    def header(self):
        return b""

    def trailer(self):
        return ()

    def close(self):
        pass


class CsvEncoder(Encoder):
    media_type = "text/csv"
    content_type = "text/csv; charset=utf-8"
    extension = "csv"

    def __init__(self, schema, name="export", bom=False, delimiter="comma"):
        super().__init__(schema)
        self.bom = bom
        self.delimiter = DELIMITERS[delimiter]

    def header(self):
        return (BYTE_ORDER_MARK if self.bom else "").encode() + self._lines([list(self.schema.fields)])

    def encode(self, records):
        return self._lines([[self._cell(value) for value in row] for row in exact_rows(self.schema, records)])

    def _cell(self, value):
        """Guarded text (spreadsheets.guard); a decimal with a comma when the columns are split by semicolons,
        as spreadsheets in Russian and most European locales write and read numbers."""
        if isinstance(value, Decimal) and self.delimiter == ";":
            return str(value).replace(".", ",")
        return guard(value)

    def _lines(self, rows):
        """The rows through csv.writer's Excel dialect: quotes where needed, CRLF line ends."""
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=self.delimiter).writerows(rows)
        return buffer.getvalue().encode()


class NdjsonEncoder(Encoder):
    media_type = content_type = "application/x-ndjson"
    extension = "ndjson"

    def encode(self, records):
        # json.dumps escapes any newline inside a string, so one record is always exactly one line.
        return "".join(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n"
                       for item in dumping.dump(self.schema, records, many=True)).encode()


class XlsxEncoder(Encoder):
    """A workbook of one sheet, made by openpyxl in write-only mode: each batch's rows go to a temporary file as
    they come (memory stays flat however many rows there are), and the finished workbook is sent from a
    temporary file in chunks. A ZIP's directory comes last, so nothing can be sent before the last row is in.
    Cells are typed, so text is never run as a formula: no guard quote is added, and none is taken off on
    import."""

    media_type = content_type = XLSX_TYPE
    extension = "xlsx"
    sent_when_complete = True

    def __init__(self, schema, name="export", bom=False, delimiter="comma"):
        super().__init__(schema)
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(name[:31])
        fields = schema.fields
        self.text = {name for name, field in fields.items() if isinstance(field, ma.fields.String)} | TEXT_INTEGERS
        self.formats = {name: "0." + "0" * field.max_places for name, field in fields.items()
                        if hasattr(field, "max_places")}
        self.saved = False

    def header(self):
        self.sheet.append(list(self.schema.fields))
        return b""

    def encode(self, records):
        for row in exact_rows(self.schema, records):
            self.sheet.append([self._cell(name, value) for name, value in zip(self.schema.fields, row)])
        return b""

    def _cell(self, name, value):
        if value is None:
            return None
        if name in self.text or isinstance(value, str):
            # openpyxl takes text starting with "=" for a formula unless told it is text. Characters XML cannot
            # hold (control characters, which the API refuses but a direct database write might leave) are
            # dropped; a carriage return is escaped, as Excel does, or the XML parser would read a line feed.
            cell = WriteOnlyCell(self.sheet, ooxml_escape(ILLEGAL_CHARACTERS_RE.sub("", str(value))))
            cell.data_type = "s"
            return cell
        cell = WriteOnlyCell(self.sheet, value)
        if name in self.formats:
            cell.number_format = self.formats[name]
        return cell

    def trailer(self):
        with tempfile.TemporaryFile() as file:
            self._save(file)
            file.seek(0)
            while chunk := file.read(CHUNK_BYTES):
                yield chunk

    def close(self):
        """An export cut short still saves (to nowhere), which is what removes openpyxl's temporary sheet file."""
        if not self.saved:
            self._save(io.BytesIO())

    def _save(self, file):
        self.saved = True
        self.workbook.save(file)


ENCODERS = {"csv": CsvEncoder, "ndjson": NdjsonEncoder, "xlsx": XlsxEncoder}
