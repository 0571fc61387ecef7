"""Bulk imports: a JSON array or a CSV body of rows, every row checked first, then all upserted in one transaction.

Why all or nothing: a CRM that sends a file with one bad row fixes that row and sends the same file again; had
the good rows gone in, it would have to work out which ones. So a single error answers 422 with every row's
result and writes nothing, and a good file is written in one transaction: a crash midway leaves nothing either.

Why one lock: the import first takes the bot's change counter (change_numbers.py) and only then reads the rows it will
compare with, so imports and single writes of one bot queue behind each other; two imports of the same new
codes cannot both insert them, the second finds them and updates (or leaves) them.

A row is matched by its code (tracking_number, client_code): created when the bot has none, updated when a
field it gives differs (only the fields given; the others keep their values), unchanged otherwise: then
nothing is written, the record keeps its change number and no history row is added.
"""
import csv
import io
import json
import re
from dataclasses import dataclass, field
from itertools import count
from typing import Callable

import marshmallow as ma
from flask import current_app, request
from flask_smorest import abort

from ..database import retry_after_integrity_error
from ..extensions import db
from ..models.types import utcnow
from ..serialization import spreadsheets
from ..web import problems
from ..web.errors import problem
from ..web.i18n import gettext, localize_field_errors
from . import idempotency
from .change_numbers import next_change_seqs

DEFAULT_MAX_ROWS = 1_000  # config IMPORT_MAX_ROWS overrides it
JSON_TYPE, NDJSON_TYPE, CSV_TYPE = "application/json", "application/x-ndjson", "text/csv"
XLSX_TYPE = spreadsheets.XLSX_TYPE
# Config IMPORT_MAX_XLSX_UNPACKED_BYTES overrides it. 1,000 rows of long Cyrillic notes unpack to about 4 MiB;
# what openpyxl parses costs CPU by the megabyte (a second or more per MiB of tiny strings).
DEFAULT_MAX_UNPACKED_BYTES = 8 * 1024 * 1024
# Columns an export writes that no import sets: accepted and ignored, so an export imports back as it is.
READ_ONLY_COLUMNS = ("id", "created_at", "updated_at")
CREATED, UPDATED, UNCHANGED, ERROR, VALID = "created", "updated", "unchanged", "error", "valid"
INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,19}")


@dataclass
class Importer:
    """What one resource's import needs from its service: the rules and the writes (all uncommitted)."""

    model: type
    code_field: str
    schema: ma.Schema  # the single-record create schema: a row obeys exactly its rules
    plan: Callable  # (record or None, fields, given) -> (fields to write, {} if none; field errors)
    insert: Callable  # (bot_id, fields, change_seq, now) -> new record
    update: Callable  # (record, fields, change_seq, now)
    inserted: Callable = lambda records: None  # after the inserts are flushed (ids known): e.g. history rows
    renamed: dict = field(default_factory=dict)  # an export's column -> the field it sets (current_status -> status)
    read_only: tuple = READ_ONLY_COLUMNS

    def known_columns(self):
        return {*self.schema.fields, *self.read_only, *self.renamed}

    def fields_of(self, raw):
        """An exported row as the schema takes it: read-only columns dropped, exported names renamed. Returns
        (row, errors)."""
        row = {name: value for name, value in raw.items() if name not in self.read_only}
        for exported, name in self.renamed.items():
            if exported in row:
                if name in row:
                    return row, {exported: [gettext("Give %(name)s or %(exported)s, not both.", name=name,
                                                    exported=exported)]}
                row[name] = row.pop(exported)
        return row, {}


@dataclass
class Row:
    number: int  # 1-based: the JSON array's index + 1, or the CSV data row (the header and blank lines not counted)
    raw: object
    fields: dict = None  # as the schema loaded them
    code: str = None
    errors: dict = field(default_factory=dict)
    record: object = None
    planned: dict = None
    result: str = None

    def answer(self):
        if self.errors:
            return {"row": self.number, "result": ERROR, "errors": self.errors}
        answer = {"row": self.number, "result": self.result or VALID}
        if self.record is not None and self.record.id is not None:
            answer["id"] = self.record.id
        return answer


def max_rows():
    return current_app.config.get("IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS)


def max_unpacked_bytes():
    return current_app.config.get("IMPORT_MAX_XLSX_UNPACKED_BYTES", DEFAULT_MAX_UNPACKED_BYTES)


def run_import(importer, bot_id):
    """The view's work: read and check the body's rows, then write them all, or none with a 422."""
    rows = check_rows(importer, read_rows(importer))
    if any(row.errors for row in rows):
        return rejected(rows)
    return retry_after_integrity_error(write_rows, importer, bot_id, rows)


# --- reading the body ---------------------------------------------------------------------------------------

def read_rows(importer):
    """[(row number, raw row)] from a JSON array, NDJSON, CSV or XLSX body; problems for a body that is none."""
    readers = {JSON_TYPE: json_rows, NDJSON_TYPE: ndjson_rows, CSV_TYPE: csv_rows, XLSX_TYPE: xlsx_rows}
    reader = readers.get(request.mimetype)
    if reader is None:
        abort(415, message=gettext("Send the rows as a JSON array (Content-Type: application/json), NDJSON "
                                   "(application/x-ndjson), CSV with a header row (text/csv) or an XLSX workbook "
                                   "(%(xlsx)s).", xlsx=XLSX_TYPE))
    rows = reader(importer)
    if not rows:
        abort(422, messages={"json": {"_body": [gettext("Send at least one row.")]}})
    return rows


def too_many_rows():
    limit = max_rows()
    abort(413, message=gettext("An import takes at most %(limit)s rows; split the file into parts of %(limit)s or "
                               "fewer.", limit=limit), extra={"max_rows": limit})


def json_rows(importer):
    rows = parse_json(request.get_data(cache=True))
    if not isinstance(rows, list):
        abort(422, messages={"json": {"_body": [gettext("Send a JSON array with one object per row.")]}})
    if len(rows) > max_rows():
        too_many_rows()
    return list(enumerate(rows, 1))


def ndjson_rows(importer):
    """One JSON value per line, as the NDJSON export writes them; blank lines are skipped."""
    rows = []
    for line_number, line in enumerate(request.get_data(cache=True).splitlines(), 1):
        if not line.strip():
            continue
        if len(rows) == max_rows():
            too_many_rows()
        rows.append((len(rows) + 1, parse_json(line, line_number)))
    return rows


def parse_json(data, line=None):
    """The JSON value of a body, or of its NDJSON `line`; a 400 naming the line if it is not JSON."""
    try:
        return json.loads(data)
    except RecursionError:
        abort(400, message=gettext("Invalid JSON body: nested too deeply.") if line is None else
              gettext("Invalid NDJSON body (line %(line)s): nested too deeply.", line=line))
    except ValueError as error:  # JSONDecodeError, bad UTF-8, a number past Python's digit limit
        abort(400, message=gettext("Invalid JSON body: %(error)s.", error=error) if line is None else
              gettext("Invalid NDJSON body (line %(line)s): %(error)s.", line=line, error=error))


def csv_rows(importer):
    """The data rows as {column: cell}: read in the declared charset, else UTF-8, else Windows-1251, split at
    the delimiter the header line uses (, ; or tab). A problem that stops the reading names both."""
    try:
        text, encoding = spreadsheets.decode_csv(request.get_data(cache=True), request.mimetype_params.get("charset"))
    except spreadsheets.UnreadableFile as error:
        abort(400, message=str(error))
    delimiter = spreadsheets.sniff_delimiter(text)
    read_as = gettext("read as %(encoding)s with %(delimiter)s (%(symbol)s) between columns", encoding=encoding,
                      delimiter=gettext(spreadsheets.DELIMITERS[delimiter]), symbol=repr(delimiter))
    lines = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(lines, None)
        cells = (cells for cells in lines if any(cells))  # blank lines, e.g. the one an editor leaves at the end
        rows = table_rows(importer, header, cells, read_as, extra={"encoding": encoding, "delimiter": delimiter},
                          text=csv_text(decimal_comma=delimiter != ","))
    except csv.Error as error:
        abort(400, message=gettext("Invalid CSV body (line %(line)s, %(read_as)s): %(error)s.", line=lines.line_num,
                                   read_as=read_as, error=error),
              extra={"encoding": encoding, "delimiter": delimiter})
    return rows


def csv_text(decimal_comma):
    """What a CSV cell's text means: the export's formula guard taken off (spreadsheets.unguard) and, in a file
    not split by commas, a decimal comma read as a point."""
    def meaning(text, field_type):
        text = spreadsheets.unguard(text)
        if decimal_comma and isinstance(field_type, ma.fields.Decimal):
            return spreadsheets.decimal_point(text)
        return text
    return meaning


def xlsx_rows(importer):
    """The first sheet's rows as {column: cell}; a malformed, oversized or bomb-like file is a 400 or 413."""
    try:
        header, cells = spreadsheets.xlsx_table(request.get_data(cache=True), max_rows=max_rows(),
                                                max_unpacked_bytes=max_unpacked_bytes())
    except spreadsheets.TooLargeFile as error:
        abort(413, message=str(error))
    except spreadsheets.UnreadableFile as error:
        abort(400, message=str(error))
    return table_rows(importer, header, cells, gettext("read from the workbook's first sheet"))


def table_rows(importer, header, lines, read_as, extra=None, text=None):
    """[(row number, {column: cell})] of a table whose first line names the columns: every column must be one
    the import knows (a field, a read-only column of the export, or an export's name for a field); else the
    table was most likely read wrongly, and the 422 says how it was read."""
    if not header or not any(header):
        abort(422, messages={"json": {"_body": [gettext("The first line must name the columns.")]}})
    if len(set(header)) != len(header):
        abort(422, messages={"json": {"_body": [gettext("A column is named twice in the header.")]}})
    unknown = [name for name in header if name not in importer.known_columns()]
    if unknown:
        columns = [*sorted(importer.schema.fields),
                   *(gettext("%(exported)s (for %(name)s)", exported=old, name=new)
                     for old, new in importer.renamed.items())]
        abort(422, message=gettext("The header names columns this import does not know: %(unknown)s (the file was "
                                   "%(read_as)s). Columns: %(columns)s; ignored: %(ignored)s.",
                                   unknown=", ".join(map(repr, unknown)), read_as=read_as,
                                   columns=", ".join(columns), ignored=", ".join(importer.read_only)),
              extra={"unknown_columns": unknown, **(extra or {})})
    rows = []
    for cells in lines:
        if len(rows) == max_rows():
            too_many_rows()
        rows.append((len(rows) + 1, table_row(importer, header, cells, text)))
    return rows


def table_row(importer, header, cells, text=None):
    """A row as {column: value}; an empty cell is left out (the field is not given). `text`, when given, is
    what a text cell means for its field (csv_text)."""
    if len(cells) > len(header):
        return list(cells)  # not a dict: the schema refuses it; check_rows says why
    row = {}
    for name, cell in zip(header, cells):
        if cell is None or cell == "":
            continue
        field_type = importer.schema.fields.get(importer.renamed.get(name, name))
        if text and isinstance(cell, str):
            cell = text(cell, field_type)
        row[name] = cell_value(field_type, cell)
    return row


def cell_value(field_type, cell):
    """A cell as the field takes it. The schemas take integers strictly (JSON's "5" is refused as in JSON), so an
    integer field's digits become a number; a spreadsheet's number becomes text in a text field (a tracking
    number 123456) and exact decimal text in a decimal one (14.29, not the float's 14.2899...)."""
    if isinstance(field_type, ma.fields.Integer):
        if isinstance(cell, str) and INTEGER_TEXT.fullmatch(cell):
            return int(cell)
        if isinstance(cell, float) and cell.is_integer():
            return int(cell)
        return cell
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return spreadsheets.text_of(cell)
    return cell if isinstance(cell, (str, bool)) else spreadsheets.text_of(cell)


# --- checking ---------------------------------------------------------------------------------------------

def check_rows(importer, raw_rows):
    """Load every row with the create schema; a code an earlier row already has is the later row's error."""
    rows, first_row_of = [], {}
    for number, raw in raw_rows:
        row = Row(number, raw)
        rows.append(row)
        if isinstance(raw, list):
            row.errors = {"_row": [gettext("More cells than the header has columns.")]}
            continue
        if isinstance(raw, dict):
            row.raw, row.errors = importer.fields_of(raw)
            if row.errors:
                continue
        try:
            row.fields = importer.schema.load(row.raw)
        except ma.ValidationError as error:
            row.errors = error.normalized_messages()
            continue
        row.code = row.fields[importer.code_field]
        earlier = first_row_of.setdefault(row.code, number)
        if earlier != number:
            row.errors = {importer.code_field: [
                gettext("Row %(earlier)s already has %(code)s; give each code once per import.", earlier=earlier,
                        code=row.code)]}
    return rows


def given_fields(row):
    """The loaded fields the row itself gave (not the schema's defaults): what an update replaces."""
    return {name: value for name, value in row.fields.items() if name in row.raw}


# --- writing ----------------------------------------------------------------------------------------------

def write_rows(importer, bot_id, rows):
    """Under the bot's lock: compare each row with the stored record, then number and write the changed ones
    in input order; a row the comparison finds invalid (e.g. a derived total too large) rejects them all."""
    next_change_seqs(bot_id, 0)  # the lock first: see writes/change_numbers.py
    stored = existing_records(importer, bot_id, [row.code for row in rows])
    for row in rows:
        row.record, row.result = stored.get(row.code), None  # None: also after a first attempt (run_import)
        row.planned, row.errors = importer.plan(row.record, row.fields, given_fields(row))
    if any(row.errors for row in rows):
        return rejected(rows)  # an error answer: its transaction is rolled back (database.roll_back_error_answer)
    write_planned(importer, bot_id, [row for row in rows if row.planned])
    for row in rows:
        row.result = row.result or UNCHANGED
    results = [row.answer() for row in rows]  # before the commit, which expires every record it wrote
    unmark_created_record()
    db.session.commit()
    return {"results": results, "counts": counts(results)}


def unmark_created_record():
    """An Idempotency-Key retry whose first attempt committed but lost its answer is answered with the record
    the attempt created, rendered by the route's success schema (idempotency.py). An import's answer is its
    rows' results, which no one record can render: with none noted, the retry gets the "answer lost, read the
    current state" problem instead of a wrong 200."""
    claim = idempotency.claim_in(db.session())
    if claim is not None:
        claim.resource = None


def existing_records(importer, bot_id, codes):
    code_column = getattr(importer.model, importer.code_field)
    records = db.session.scalars(db.select(importer.model).where(
        importer.model.bot_id == bot_id, code_column.in_(codes)).execution_options(populate_existing=True))
    return {getattr(record, importer.code_field): record for record in records}


def write_planned(importer, bot_id, rows):
    if not rows:
        return
    numbers, now, inserted = count(next_change_seqs(bot_id, len(rows))), utcnow(), []
    for row in rows:
        if row.record is None:
            row.record, row.result = importer.insert(bot_id, row.planned, next(numbers), now), CREATED
            inserted.append(row.record)
        else:
            importer.update(row.record, row.planned, next(numbers), now)
            row.result = UPDATED
    db.session.flush()
    importer.inserted(inserted)
    db.session.flush()  # what `inserted` added, too: all is written before the commit (see unmark_created_record)


# --- answers ----------------------------------------------------------------------------------------------

def counts(results):
    outcomes = [result["result"] for result in results]
    return {**{outcome: outcomes.count(outcome) for outcome in (CREATED, UPDATED, UNCHANGED)},
            "errors": outcomes.count(ERROR)}


def rejected(rows):
    """The 422: every row's result (errors, or "valid" for a row that had none) and nothing written."""
    failed = [row for row in rows if row.errors]
    for row in failed:
        row.errors = localize_field_errors(row.errors)
    detail = gettext("%(failed)s of %(total)s rows have errors (first: row %(first)s); nothing was imported. Fix them "
                     "and send the whole import again.", failed=len(failed), total=len(rows), first=failed[0].number)
    return problem(problems.IMPORT_REJECTED, detail,
                   errors={f"row {row.number}": row.errors for row in failed},
                   results=[row.answer() for row in rows],
                   counts={"valid": len(rows) - len(failed), "errors": len(failed)})


# --- documentation ------------------------------------------------------------------------------------------

class ImportRowResultSchema(ma.Schema):
    row = ma.fields.Integer(metadata={"example": 1, "description": "1-based: array index + 1, or CSV data row."})
    result = ma.fields.String(metadata={"enum": [CREATED, UPDATED, UNCHANGED, ERROR, VALID], "example": CREATED,
                                        "description": "valid: only in a 422, a row without errors, not written."})
    id = ma.fields.Integer(metadata={"example": 1, "description": "The record's id (not for rows in error)."})
    errors = ma.fields.Dict(metadata={"description": "The row's messages by field, as a single create gives."})


class ImportCountsSchema(ma.Schema):
    created = ma.fields.Integer(metadata={"example": 2})
    updated = ma.fields.Integer(metadata={"example": 1})
    unchanged = ma.fields.Integer(metadata={"example": 0})
    errors = ma.fields.Integer(metadata={"example": 0})


class ImportResultSchema(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(ImportRowResultSchema), metadata={"description": "In input order."})
    counts = ma.fields.Nested(ImportCountsSchema)


def import_request_body(row_schema, csv_example):
    """The OpenAPI requestBody of an import: a JSON array or NDJSON of the create body, CSV text with a header
    row, or an XLSX workbook; any export of the resource is such a body."""
    exported = (f"An export's read-only columns ({', '.join(READ_ONLY_COLUMNS)}) are accepted and ignored, so a "
                "file exported from this API imports back unchanged.")
    return {"required": True, "content": {
        JSON_TYPE: {"schema": {"type": "array", "minItems": 1, "items": row_schema, "description":
                               f"At most IMPORT_MAX_ROWS rows ({DEFAULT_MAX_ROWS} unless configured). {exported}"}},
        NDJSON_TYPE: {"schema": {"type": "string", "description": "One JSON object per line, as the NDJSON export "
                                                                  f"writes them. {exported}"}},
        CSV_TYPE: {"schema": {"type": "string", "example": csv_example, "description":
                              "A header row naming the fields, one row per line; an empty cell leaves the field "
                              "out. Columns split by , ; or tab (the header's), decimal comma accepted when not "
                              "split by commas. Text in the charset Content-Type declares, else UTF-8 (a byte order "
                              "mark is allowed), else windows-1251. A leading quote the CSV export adds before = + "
                              f"- @ is taken off. {exported}"}},
        XLSX_TYPE: {"schema": {"type": "string", "format": "binary", "description":
                               "The first sheet: a header row naming the fields, one row per line. At most "
                               f"IMPORT_MAX_XLSX_UNPACKED_BYTES ({DEFAULT_MAX_UNPACKED_BYTES}) unpacked. {exported}"}}}}
