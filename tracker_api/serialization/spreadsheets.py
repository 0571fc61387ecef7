"""Files made for spreadsheets, both ways: the formula guard a CSV export adds and an import undoes, CSV text in
the encodings and delimiters Excel writes, and XLSX read within bounds (openpyxl, read-only mode).

Why the guard is exact: a cell starting with = + - @ (or tab, CR) is run as a formula by Excel and LibreOffice
(OWASP "CSV Injection"), so the export writes `'=...`. An import must give the original text back, also when that
text itself started with a quote: so the export guards a value starting with `'` as well, and the import takes off
one quote exactly when what follows it starts with a trigger or a quote. Every value the export writes then comes
back unchanged, and a quote a person typed before ordinary text (`'abc`) is kept.
"""
import codecs
import io
import re
import zipfile
from datetime import date, datetime, time

import openpyxl

from ..web.i18n import N_, either, gettext

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
GUARD = "'"
# Only a signed number (a phone number in E.164, +77011234567) is left alone: no spreadsheet can run it.
PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
DELIMITERS = {",": N_("comma"), ";": N_("semicolon"), "\t": N_("tab")}  # named in messages: gettext(name)
# The encodings a CSV is tried in when the request declares none: UTF-8 is self-checking (text in another
# encoding is almost never valid UTF-8), so it goes first; Windows-1251 is what Russian-locale Excel saves.
CSV_ENCODINGS = ("utf-8", "windows-1251")
# What a request may declare, as Python's codecs name them (codecs.lookup): Unicode, and the Cyrillic and Western
# code pages spreadsheets and older systems save CSV in.
CSV_CHARSETS = {"utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1251", "koi8-r", "cp866", "iso8859-5",
                "cp1252", "iso8859-1", "ascii"}
MAX_COLUMNS = 64  # far more than any import has; cells past it are never read
MAX_ARCHIVE_ENTRIES = 1000
# Apache POI's zip bomb rule: a part past GRACE_BYTES unpacked may be at most MAX_RATIO times its packed size.
# Sheet XML a person made packs 5-20 times; XML that packs a hundredfold is repetition made to be unpacked.
MAX_RATIO, GRACE_BYTES = 100, 100 * 1024


class UnreadableFile(Exception):
    """A file the import cannot read (a 400); the message, in the request's language, says why."""


class TooLargeFile(UnreadableFile):
    """A file larger than an import takes (a 413)."""


def guard(value):
    """Text a spreadsheet would run as a formula, or that starts with the guard itself, gets a leading quote."""
    if isinstance(value, str) and value.startswith((*FORMULA_TRIGGERS, GUARD)) and not PLAIN_NUMBER.fullmatch(value):
        return GUARD + value
    return value


def unguard(text):
    """The text `guard` was given: one leading quote off, exactly when guard would have put it there."""
    if text.startswith(GUARD) and text[1:].startswith((*FORMULA_TRIGGERS, GUARD)):
        return text[1:]
    return text


# OOXML's escape for characters XML cannot carry as they are (ECMA-376 ST_Xstring): `_x000D_` is a carriage
# return, which an XML parser would otherwise turn into a line feed; a literal `_xHHHH_` is escaped by its `_`.
OOXML_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def ooxml_escape(text):
    """Text as an XLSX cell holds it, so that Excel and ooxml_unescape read back exactly `text`."""
    return OOXML_ESCAPED.sub(r"_x005F_x\1_", text).replace("\r", "_x000D_")


def ooxml_unescape(text):
    return OOXML_ESCAPED.sub(lambda match: chr(int(match.group(1), 16)), text)


def decimal_point(text):
    """`10,5` (a decimal comma, as Excel writes numbers in Russian locales) as `10.5`; other text unchanged."""
    return text.replace(",", ".") if DECIMAL_COMMA.fullmatch(text) else text


# --- CSV ----------------------------------------------------------------------------------------------------

def decode_csv(data, declared=None):
    """(text, encoding) of a CSV body: in the charset the request declares, else UTF-8 (a byte order mark
    dropped), else Windows-1251."""
    if declared:
        encodings = (declared_charset(declared),)
    else:
        encodings = CSV_ENCODINGS
    for encoding in encodings:
        try:
            return data.decode("utf-8-sig" if encoding == "utf-8" else encoding), encoding
        except UnicodeDecodeError:
            continue
    raise UnreadableFile(gettext("The CSV body is not valid text in %(encodings)s (tried in that order); save it "
                                 "as CSV UTF-8, or declare its charset in Content-Type.", encodings=either(encodings)))


def declared_charset(declared):
    """The codec of a charset a CSV may declare: the text encodings spreadsheets save in, by any of their names
    (windows-1251, cp1251). Python knows more codecs, but some are no text encodings (zlib), some fail in
    other ways (undefined) and some are slow on large input (punycode): none of those is a CSV's."""
    try:
        name = codecs.lookup(declared).name
    except (LookupError, ValueError):  # ValueError: a name with a NUL in it
        name = None
    if name not in CSV_CHARSETS:
        raise UnreadableFile(gettext("Unknown charset %(charset)s in Content-Type; send UTF-8 or windows-1251.",
                                     charset=repr(declared)))
    return name


def sniff_delimiter(text):
    """The delimiter of the header line: whichever of , ; tab it has most of (a comma when none)."""
    header = text.split("\n", 1)[0]
    return max(DELIMITERS, key=header.count) if any(map(header.count, DELIMITERS)) else ","


# --- XLSX ---------------------------------------------------------------------------------------------------

def check_archive(data, max_unpacked_bytes):
    """Refuse a file that is no ZIP archive, whose parts unpack to more than `max_unpacked_bytes`, or with a part
    packed more than MAX_RATIO times (a zip bomb: a small upload whose XML inflates a thousandfold, or which
    holds a million one-letter strings that cost seconds to parse), before any XML is parsed. The sizes are the
    archive directory's; an entry that holds more than its declared size fails its read (zipfile stops there
    and checks the CRC), so the declared sizes bound what openpyxl can ever inflate."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise UnreadableFile(gettext("Not an XLSX file: the body is not a ZIP archive.")) from None
    if len(entries) > MAX_ARCHIVE_ENTRIES:
        raise TooLargeFile(gettext("The XLSX file has %(parts)s parts; an import takes at most %(limit)s.",
                                   parts=len(entries), limit=MAX_ARCHIVE_ENTRIES))
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > max_unpacked_bytes:
        raise TooLargeFile(gettext("The XLSX file unpacks to %(unpacked)s bytes; an import takes at most %(limit)s. "
                                   "Split it, or send CSV.", unpacked=unpacked, limit=max_unpacked_bytes))
    for entry in entries:
        if entry.file_size > GRACE_BYTES and entry.file_size > MAX_RATIO * max(entry.compress_size, 1):
            raise TooLargeFile(gettext("The XLSX part %(part)s unpacks to %(unpacked)s bytes from %(packed)s, more "
                                       "than %(ratio)s times: refused as a zip bomb.", part=entry.filename,
                                       unpacked=entry.file_size, packed=entry.compress_size, ratio=MAX_RATIO))


def xlsx_table(data, *, max_rows, max_unpacked_bytes):
    """(header, rows of cells) of the first sheet, blank rows left out. Everything openpyxl raises on a
    malformed file (it parses a third party's XML and ZIP, and can raise almost anything) is UnreadableFile."""
    check_archive(data, max_unpacked_bytes)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - see the docstring
        raise UnreadableFile(gettext("Not a readable XLSX file (%(error)s).", error=type(error).__name__)) from None
    try:
        return _sheet_table(workbook, max_rows)
    except UnreadableFile:
        raise
    except Exception as error:  # noqa: BLE001 - see the docstring
        raise UnreadableFile(gettext("Not a readable XLSX file: its first sheet is broken (%(error)s).",
                                     error=type(error).__name__)) from None
    finally:
        workbook.close()


def _sheet_table(workbook, max_rows):
    if not workbook.worksheets:
        raise UnreadableFile(gettext("The XLSX file has no worksheet."))
    sheet = workbook.worksheets[0]
    # The sheet's declared size is not trusted: read as it is, rows are only as wide as MAX_COLUMNS.
    sheet.reset_dimensions()
    # A row number far down (r="1000000") makes openpyxl yield every empty row before it: those count too.
    read_limit = 2 * max_rows + 1
    header, rows = None, []
    for number, cells in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), 1):
        if number > read_limit:
            raise TooLargeFile(gettext("The sheet has more than %(limit)s rows (empty ones included); an import takes "
                                       "at most %(max_rows)s.", limit=read_limit, max_rows=max_rows))
        if all(cell is None or cell == "" for cell in cells):
            continue
        if header is None:
            header = [text_of(cell) for cell in _trimmed(cells)]
        else:
            rows.append(_trimmed(cells))
    return header or [], rows


def _trimmed(cells):
    """The row without its trailing empty cells, text unescaped (ooxml_unescape)."""
    cells = [ooxml_unescape(cell) if isinstance(cell, str) else cell for cell in cells]
    while cells and (cells[-1] is None or cells[-1] == ""):
        cells.pop()
    return cells


def text_of(cell):
    """A cell's value as the text a CSV would have had: numbers without a needless `.0`, times in ISO 8601."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, (datetime, date, time)):
        return cell.isoformat()
    return str(cell)
