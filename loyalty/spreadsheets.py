"""The files the back office hands out, CSV and XLSX: one rule for what a cell may hold, one way to stream.

Every export of the project goes through ``stream_csv`` (a download in the request) or, for a file a
worker writes, ``write_csv`` or ``write_xlsx``, and each puts every cell
through ``neutralise``, so a member who names themselves ``=HYPERLINK(…)`` cannot run a formula on the
computer of the operator who opens the file (CSV injection, OWASP).  Rules: docs/rules/export.md.
"""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from urllib.parse import quote

from django.http import StreamingHttpResponse
from django.utils import translation
from django.utils.functional import Promise
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

#: What a spreadsheet runs when a text cell starts with it (OWASP: = + - @, tab, carriage return).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-\d+(?:\.\d+)?")

#: Excel's rows per sheet (1,048,576) less the header: an XLSX longer than this goes on to a second sheet.
XLSX_ROWS_PER_SHEET = 1_048_575
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutralise(cell):
    """A cell as it may go into a spreadsheet: text a spreadsheet would run as a formula gets a leading
    apostrophe (shown as text, never run); everything else is unchanged.

    Only text: numbers stay numbers, and so does a negative amount written as text (``-25.00`` from
    ``yuan_text``), which a spreadsheet reads as a number and never as a formula.
    """
    if isinstance(cell, Promise):
        cell = str(cell)
    if isinstance(cell, str) and cell[:1] in FORMULA_STARTS and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


class _Echo:
    def write(self, value):
        return value


def stream_csv(*, filename: str, header: list, rows) -> StreamingHttpResponse:
    """A CSV download that streams, so a large ledger never sits in memory.

    Starts with a UTF-8 BOM so Excel (what finance opens it with) reads the Chinese text correctly.
    The rows are written in the request's language (labels are looked up as they stream, after the
    view has returned); each cell through ``neutralise``.
    """
    writer = csv.writer(_Echo())
    language = translation.get_language()

    def lines():
        with translation.override(language):
            yield "\ufeff" + writer.writerow([str(label) for label in header])
            for row in rows:
                yield writer.writerow([neutralise(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition(filename)
    return response


def write_csv(handle, *, header: list, rows) -> None:
    """The CSV ``stream_csv`` sends, written to ``handle`` (a text file opened with ``newline=""``):
    the UTF-8 BOM Excel needs, the header, each cell through ``neutralise``.  For files a worker
    writes (the background member export), served later by a download view."""
    writer = csv.writer(handle)
    handle.write("\ufeff")
    writer.writerow([str(label) for label in header])
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])


def write_xlsx(target, *, header: list, rows, sheet_title: str = "Sheet") -> None:
    """An XLSX workbook written to ``target`` (a path or a binary file) in bounded memory.

    openpyxl's write-only workbook spools each row to a temporary file as it is appended, and the file
    (a zip, whose directory comes last) is assembled when the last row is in; so memory stays flat
    however many rows.  Cells go through ``neutralise``; a ``Decimal`` (an amount in yuan) is a
    number shown with two decimals.  Past Excel's row limit the rows go on in a second sheet.
    """
    workbook = Workbook(write_only=True)
    titles = [str(label) for label in header]
    sheet = None
    written = XLSX_ROWS_PER_SHEET
    for row in rows:
        if written == XLSX_ROWS_PER_SHEET:
            number = len(workbook.worksheets) + 1
            sheet = workbook.create_sheet(sheet_title if number == 1 else f"{sheet_title} ({number})")
            sheet.append(titles)
            written = 0
        cells = []
        for value in row:
            value = neutralise(value)
            if isinstance(value, Decimal):
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = "0.00"
                value = cell
            cells.append(value)
        sheet.append(cells)
        written += 1
    if sheet is None:
        workbook.create_sheet(sheet_title).append(titles)
    workbook.save(target)


def content_disposition(filename: str) -> str:
    """``attachment`` with the name as browsers read it: ``filename*`` in UTF-8 (a Chinese name), and an
    ASCII ``filename`` for the few clients that read only that one."""
    extension = filename.rsplit(".", 1)[-1] if "." in filename else ""
    ascii_name = filename.encode("ascii", "ignore").decode().strip(" -_")
    if not ascii_name or ascii_name == f".{extension}" or ascii_name == extension:
        ascii_name = f"export.{extension}" if extension else "export"
    if extension and not ascii_name.endswith(f".{extension}"):
        ascii_name += f".{extension}"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
