"""Reading another system's files: encodings, formats and each kind of cell."""

import io
from datetime import datetime

import openpyxl
import pytest
from django.utils import timezone

from migration import parsing

HEADER = "手机号,昵称,积分\n"


def read(data: bytes, name: str = "members.csv", max_bytes: int = 10**6) -> parsing.Table:
    return parsing.read_table(data, filename=name, max_bytes=max_bytes, max_rows=1000)


def test_a_utf8_file_is_read_as_utf8():
    table = read((HEADER + "13800000001,小明,10\n").encode())
    assert table.encoding == "utf-8"
    assert table.headers == ["手机号", "昵称", "积分"]
    assert table.rows == [["13800000001", "小明", "10"]]


def test_a_utf8_file_with_a_bom_is_read_without_the_bom():
    table = read(("\ufeff" + HEADER + "13800000001,小明,10\n").encode())
    assert table.encoding == "utf-8-sig"
    assert table.headers[0] == "手机号"


@pytest.mark.parametrize("codec", ["gbk", "gb18030"])
def test_a_gbk_file_is_read_as_gbk(codec):
    table = read((HEADER + "13800000001,王小明,10\n").encode(codec))
    assert table.encoding == "gb18030"
    assert table.rows[0][1] == "王小明"


def test_bytes_that_are_neither_utf8_nor_gbk_refuse_the_file():
    with pytest.raises(parsing.FileRefused, match="既不是 UTF-8 也不是 GBK"):
        read(b"phone\n\x81\x20\xff\xfe\n")


def test_a_file_over_the_size_limit_is_refused():
    with pytest.raises(parsing.FileRefused, match="最多只能导入"):
        read((HEADER * 100).encode(), max_bytes=100)


def test_an_empty_file_and_a_file_without_headers_are_refused():
    with pytest.raises(parsing.FileRefused):
        read(b"  \n")
    with pytest.raises(parsing.FileRefused):
        read(b",,\n1,2,3\n")


def test_a_malformed_csv_is_refused_with_its_line():
    with pytest.raises(parsing.FileRefused, match="CSV 格式错误"):
        read(b'phone,name\n138,"unclosed\n')


def test_old_excel_files_are_refused_with_what_to_do():
    with pytest.raises(parsing.FileRefused, match=r"\.xlsx"):
        read(b"\xd0\xcf\x11\xe0 not really", name="old.xls")


def test_short_rows_are_padded_and_blank_rows_dropped():
    table = read((HEADER + "13800000001\n,,\n").encode())
    assert table.rows == [["13800000001", "", ""]]


def test_an_xlsx_sheet_is_read_in_read_only_mode():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["手机号", "积分", "积分到期"])
    sheet.append([13800000001, 120, datetime(2027, 1, 5)])
    buffer = io.BytesIO()
    book.save(buffer)
    table = read(buffer.getvalue(), name="members.xlsx")
    assert table.encoding == "xlsx"
    assert table.rows == [["13800000001", "120", "2027-01-05"]]


def test_a_damaged_xlsx_is_refused():
    with pytest.raises(parsing.FileRefused, match="已损坏"):
        read(b"PK\x03\x04garbage", name="members.xlsx")


@pytest.mark.parametrize(
    "text",
    ["2026/1/5", "2026-01-05", "2026年1月5日", "2026.1.5", "20260105", " 2026/01/05 "],
)
def test_the_usual_chinese_date_formats_are_read(text):
    assert parsing.parse_date(text).isoformat() == "2026-01-05"


@pytest.mark.parametrize(
    "text", ["2026/1/5 13:05", "2026-01-05 13:05:00", "2026年1月5日 13时5分", "2026-01-05T13:05"]
)
def test_dates_with_times_are_read_in_the_shops_time_zone(text):
    at = parsing.parse_datetime(text)
    assert timezone.localtime(at).replace(tzinfo=None) == datetime(2026, 1, 5, 13, 5)


@pytest.mark.parametrize("text", ["2026/2/30", "2026-13-01", "2025年2月29日", "2026-01-05 25:00"])
def test_impossible_dates_are_refused(text):
    with pytest.raises(parsing.CellError, match="不存在的日期"):
        parsing.parse_datetime(text)


@pytest.mark.parametrize("text", ["next tuesday", "5/1/2026", "2026-1", ""])
def test_what_is_not_a_date_is_refused(text):
    with pytest.raises(parsing.CellError, match="不是日期"):
        parsing.parse_datetime(text)


@pytest.mark.parametrize(
    ("text", "fen"), [("12.5", 1250), ("¥1,200.00", 120_000), ("￥8", 800), ("1200元", 120_000), ("0.01", 1)]
)
def test_amounts_in_yuan_become_fen_exactly(text, fen):
    assert parsing.parse_fen(text) == fen


@pytest.mark.parametrize("text", ["-5", "abc", "1.005", "1,2,3"])
def test_negative_non_numeric_and_sub_fen_amounts_are_refused(text):
    with pytest.raises(parsing.CellError):
        parsing.parse_fen(text)


@pytest.mark.parametrize(("text", "points"), [("1,200", 1200), ("0", 0), ("35.0", 35)])
def test_points_are_whole_numbers(text, points):
    assert parsing.parse_points(text) == points


@pytest.mark.parametrize("text", ["-3", "12.5", "十"])
def test_negative_and_fractional_points_are_refused(text):
    with pytest.raises(parsing.CellError):
        parsing.parse_points(text)


def test_phones_lose_their_country_code_and_separators():
    assert parsing.parse_phone("+86 138-0000-0001") == "13800000001"
    with pytest.raises(parsing.CellError):
        parsing.parse_phone("12345")


def test_tags_are_split_the_ways_old_systems_write_them():
    assert parsing.parse_list("老客，VIP;  生日月、门店A") == ["老客", "VIP", "生日月", "门店A"]
