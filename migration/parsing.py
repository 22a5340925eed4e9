"""Reading another system's export: the file's encoding and format, and each cell's value.

Pure functions with no database: a file becomes a ``Table`` (its headers, its rows of text and the
encoding it was read in), and each cell is read by the parser of its field (``parse_date``,
``parse_fen``, ``parse_points`` …), which raises ``CellError`` with the message the operator reads.
Amounts in 元 go through ``loyalty.money.parse_yuan`` (exact to the fen, never rounded), so a file
is read as an operator's typing is.

Encodings: Chinese back offices export UTF-8 (often with a BOM, Excel's "CSV UTF-8") or GBK; GB18030
is GBK's superset, so it reads both.  A file that is valid UTF-8 is UTF-8 (GBK text is almost never
valid UTF-8); otherwise GB18030; a file neither can read is refused as a whole.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time

import openpyxl
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.money import parse_yuan
from points.models import MAX_POINTS


class FileRefused(Exception):
    """The whole file cannot be read (format, encoding, size, no header): nothing is imported."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class CellError(Exception):
    """One cell cannot be read; the message says why, in the operator's language."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]  # every cell as text, each row as long as the headers
    encoding: str  # "utf-8", "utf-8-sig", "gb18030" or "xlsx"


ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 (BOM)",
    "gb18030": "GBK / GB18030",
    "xlsx": "Excel (XLSX)",
}

_XLSX_MAGIC = b"PK\x03\x04"


def read_table(data: bytes, *, filename: str, max_bytes: int, max_rows: int) -> Table:
    """The file's header row and its data rows; ``FileRefused`` when it cannot be read at all."""
    if len(data) > max_bytes:
        raise FileRefused(
            _("The file is %(size)s MB; at most %(max)s MB can be imported.")
            % {"size": round(len(data) / 2**20, 1), "max": round(max_bytes / 2**20, 1)}
        )
    if not data.strip():
        raise FileRefused(_("The file is empty."))
    name = filename.lower()
    if data.startswith(_XLSX_MAGIC) or name.endswith(".xlsx"):
        headers, rows = _read_xlsx(data, max_rows)
        encoding = "xlsx"
    elif name.endswith(".xls"):
        raise FileRefused(_("Old Excel files (.xls) cannot be read: save the sheet as .xlsx or CSV."))
    else:
        text, encoding = decode(data)
        headers, rows = _read_csv(text, max_rows)
    headers = [h.strip() for h in headers]
    while headers and not headers[-1]:
        headers.pop()
    if not any(headers):
        raise FileRefused(_("The first row must name the columns; it is empty."))
    width = len(headers)
    rows = [(row + [""] * width)[:width] for row in rows]
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    return Table(headers=headers, rows=rows, encoding=encoding)


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was read in: UTF-8 (with or without BOM), else GB18030."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    else:
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as error:
        raise FileRefused(
            _("The file is neither UTF-8 nor GBK text (unreadable bytes at position %(at)s).")
            % {"at": error.start}
        ) from error


def _read_csv(text: str, max_rows: int) -> tuple[list[str], list[list[str]]]:
    if "\x00" in text:
        raise FileRefused(_("The file is not a CSV text file."))
    sample = text[:8192]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        headers = next(reader, [])
        rows = []
        for row in reader:
            rows.append(row)
            if len(rows) > max_rows:
                raise FileRefused(_("The file has more than %(max)s rows.") % {"max": max_rows})
    except csv.Error as error:
        raise FileRefused(
            _("The CSV is malformed near line %(line)s: %(error)s")
            % {"line": reader.line_num, "error": error}
        ) from error
    return headers, rows


def _read_xlsx(data: bytes, max_rows: int) -> tuple[list[str], list[list[str]]]:
    """The first sheet, read in openpyxl's read-only mode (rows streamed, not the whole workbook)."""
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise FileRefused(_("The Excel file is damaged or not an .xlsx file.")) from error
    try:
        sheet = book.worksheets[0]
        rows = []
        headers: list[str] | None = None
        for values in sheet.iter_rows(values_only=True):
            cells = [_xlsx_text(value) for value in values]
            if headers is None:
                headers = cells
                continue
            rows.append(cells)
            if len(rows) > max_rows:
                raise FileRefused(_("The file has more than %(max)s rows.") % {"max": max_rows})
    finally:
        book.close()
    return headers or [], rows


def _xlsx_text(value) -> str:
    """A cell as the text the operator sees: dates as ISO dates, whole numbers without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") if value.time() != time() else value.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- cells ----------------------------------------------------------------------------------------

_DATE = re.compile(
    r"(?P<y>\d{4})\s*(?:[-/.年])\s*(?P<m>\d{1,2})\s*(?:[-/.月])\s*(?P<d>\d{1,2})\s*日?"
    r"(?:(?:\s+|T)(?P<H>\d{1,2})\s*[:时]\s*(?P<M>\d{1,2})(?:\s*[:分]\s*(?P<S>\d{1,2})(?:\.\d+)?\s*秒?)?\s*分?)?"
)
_COMPACT = re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})")


@functools.lru_cache(maxsize=8192)  # an export repeats its dates (expiries, card ends) many times
def parse_datetime(text: str) -> datetime:
    """2026/1/5, 2026-01-05, 2026.1.5, 2026年1月5日, 20260105, each optionally with a time
    (``13:05``, ``13:05:09``, ``13时5分``), in the shop's time zone.  Impossible dates are refused."""
    text = text.strip()
    match = _DATE.fullmatch(text) or _COMPACT.fullmatch(text)
    if not match:
        raise CellError(_("Not a date: write it as 2026-01-05, 2026/1/5 or 2026年1月5日."))
    parts = match.groupdict()
    try:
        day = date(int(parts["y"]), int(parts["m"]), int(parts["d"]))
        at = time(int(parts.get("H") or 0), int(parts.get("M") or 0), int(parts.get("S") or 0))
    except ValueError as error:
        raise CellError(_("No such date or time.")) from error
    return timezone.make_aware(datetime.combine(day, at))


def parse_date(text: str) -> date:
    return timezone.localtime(parse_datetime(text)).date()


def parse_fen(text: str) -> int:
    """An amount in 元 (``12.5``, ``¥1,200.00``, ``1200元``) as fen, exactly; negative refused."""
    try:
        return parse_yuan(text.replace("￥", "¥").replace(" ", ""))
    except ValidationError as error:
        raise CellError(str(error.messages[0])) from error


def parse_points(text: str) -> int:
    """A whole, non-negative number of points (``1,200`` accepted; ``12.5`` and ``-3`` refused)."""
    cleaned = text.strip().replace(",", "")
    if cleaned.endswith(".0") or cleaned.endswith(".00"):
        cleaned = cleaned.split(".")[0]
    if cleaned.startswith("-") and cleaned[1:].isdigit():
        raise CellError(_("Cannot be negative."))
    if not cleaned.isdigit():
        raise CellError(_("Not a whole number."))
    value = int(cleaned)
    if value > MAX_POINTS:
        raise CellError(_("Too large."))
    return value


_PHONE = re.compile(r"1\d{10}")


def parse_phone(text: str) -> str:
    """A mainland mobile number: 11 digits starting with 1 (``+86``, spaces and dashes dropped)."""
    cleaned = re.sub(r"[\s\-]", "", text)
    cleaned = re.sub(r"^(\+?86)(?=1\d{10}$)", "", cleaned)
    if not _PHONE.fullmatch(cleaned):
        raise CellError(_("Not a mobile number (11 digits starting with 1)."))
    return cleaned


_GENDERS = {
    "男": 1,
    "m": 1,
    "male": 1,
    "1": 1,
    "女": 2,
    "f": 2,
    "female": 2,
    "2": 2,
    "未知": 0,
    "0": 0,
    "": 0,
}


def parse_gender(text: str) -> int:
    try:
        return _GENDERS[text.strip().lower()]
    except KeyError as error:
        raise CellError(_("Write 男, 女 or leave it empty.")) from error


_ID = re.compile(r"[A-Za-z0-9_\-]{6,64}")


def parse_wechat_id(text: str) -> str:
    cleaned = text.strip()
    if not _ID.fullmatch(cleaned):
        raise CellError(_("Not a WeChat id (6 to 64 letters, digits, - or _)."))
    return cleaned


def parse_text(text: str, *, most: int) -> str:
    cleaned = text.strip()
    if len(cleaned) > most:
        raise CellError(_("At most %(most)s characters.") % {"most": most})
    return cleaned


def parse_list(text: str) -> list[str]:
    """Tags as old systems write them: separated by , ， ; ； 、 | or spaces."""
    return [part for part in re.split(r"[,，;；、|\s]+", text.strip()) if part]
