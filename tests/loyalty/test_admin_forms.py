"""The admin's form fields for what used to be JSON boxes: lists one per line, mappings as rows."""

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from loyalty.admin_forms import LinesField, PairsField, PairsWidget


def test_lines_are_split_on_new_lines_and_chinese_or_latin_commas_blanks_and_repeats_dropped():
    field = LinesField()

    assert field.clean("茶饮\r\n 甜点 \n\n茶饮，咖啡、果汁;面包") == ["茶饮", "甜点", "咖啡", "果汁", "面包"]
    assert field.clean("") == [] and field.prepare_value(["A", "B"]) == "A\nB"
    assert not field.has_changed(["A", "B"], "A\r\nB\r\n")


def test_a_line_too_long_or_too_many_lines_are_refused_in_chinese():
    with pytest.raises(ValidationError) as long_line:
        LinesField(max_item_length=5).clean("TEA-0001")
    with pytest.raises(ValidationError) as many:
        LinesField(max_items=2).clean("a\nb\nc")

    assert long_line.value.messages == ["「TEA-0001」超过了 5 个字符。"]
    assert many.value.messages == ["最多 2 行。"]


def pairs() -> PairsField:
    return PairsField(
        key=forms.IntegerField(min_value=1), value=forms.IntegerField(), key_label="天", value_label="积分"
    )


def test_rows_become_a_mapping_with_text_keys_and_blank_rows_are_skipped():
    field = pairs()
    data = QueryDict(mutable=True)
    data.setlist("b_key", ["7", "", "3"])
    data.setlist("b_value", ["20", "", "5"])

    assert field.clean(field.widget.value_from_datadict(data, {}, "b")) == {"7": 20, "3": 5}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("3", "")], "第 1 行：两个框都要填写（或都留空）。"),
        ([("3", "5"), ("3", "6")], "第 2 行：3 重复了。"),
        ([("0", "5")], "第 1 行：确保该值大于或等于1。"),
    ],
)
def test_a_half_filled_repeated_or_bad_row_is_refused_with_its_number(rows, message):
    with pytest.raises(ValidationError) as refused:
        pairs().clean(rows)

    assert message in refused.value.messages


def test_rows_are_shown_in_the_order_of_their_numbers_with_blank_rows_to_fill():
    html = PairsWidget(key_label="关键词", value_label="内容").render(
        "field_map", {"date3": "{expires_at|date}", "thing1": "{title}", "number2": "{points}"}
    )

    assert html.index('value="thing1"') < html.index('value="number2"') < html.index('value="date3"')
    assert html.count('name="field_map_key"') == 5  # three rows and two blank ones
