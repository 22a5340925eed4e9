"""Money as people read and type it: ¥1,650.00 in, integer fen stored; discounts as 折."""

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from loyalty.money import (
    MAX_FEN,
    YuanField,
    ZheField,
    format_fen,
    format_zhe,
    parse_yuan,
    parse_zhe,
    signed_fen,
    yuan_text,
    zhe_of,
    zhe_preview,
)


@pytest.mark.parametrize(
    ("typed", "fen"),
    [
        ("1650", 165_000),
        ("1,650.5", 165_050),
        ("¥1,650.00", 165_000),
        ("1650.00元", 165_000),
        (" ¥ 1650.00 元 ", 165_000),  # spaces around the number are ignored
        ("￥１６５０．５", 165_050),  # full-width, as a Chinese input method types it
        ("0.05", 5),
        (".5", 50),
        ("1650.", 165_000),
        ("0", 0),
        ("1,234,567.89", 123_456_789),
    ],
)
def test_an_amount_typed_in_yuan_reads_as_exact_fen(typed, fen):
    assert parse_yuan(typed) == fen


@pytest.mark.parametrize(("typed", "fen"), [("-25", -2_500), ("-¥0.50", -50), ("¥-0.50", -50), ("+3", 300)])
def test_a_signed_amount_reads_where_negatives_are_allowed(typed, fen):
    assert parse_yuan(typed, allow_negative=True) == fen


@pytest.mark.parametrize(
    ("typed", "code", "chinese"),
    [
        ("1650.005", "decimals", "两位小数"),
        ("0.001", "decimals", "两位小数"),
        ("-1", "negative", "负数"),
        ("-¥0.01", "negative", "负数"),
        ("10000000000.01", "max", "不能超过 ¥10,000,000,000.00"),
        ("abc", "invalid", "以元为单位"),
        ("16,50", "invalid", "以元为单位"),  # a comma is a thousands separator, never a decimal point
        ("1.2.3", "invalid", "以元为单位"),
        ("1e3", "invalid", "以元为单位"),
        ("--1", "invalid", "以元为单位"),
        ("-¥-1", "invalid", "以元为单位"),
        ("¥", "invalid", "以元为单位"),
        ("元", "invalid", "以元为单位"),
        ("", "invalid", "以元为单位"),
        ("NaN", "invalid", "以元为单位"),
        ("12元34", "invalid", "以元为单位"),
        ("1 650", "invalid", "以元为单位"),  # digits apart may be two numbers
    ],
)
def test_what_is_not_an_amount_to_the_fen_is_refused_with_a_chinese_message(typed, code, chinese):
    with pytest.raises(ValidationError) as refused:
        parse_yuan(typed)

    assert refused.value.code == code
    with translation.override("zh-hans"):
        assert chinese in refused.value.messages[0]


@given(st.integers(min_value=-MAX_FEN, max_value=MAX_FEN))
def test_every_amount_formatted_for_people_reads_back_as_the_same_fen(fen):
    assert parse_yuan(format_fen(fen), allow_negative=True) == fen
    assert parse_yuan(yuan_text(fen), allow_negative=True) == fen
    assert parse_yuan(signed_fen(fen), allow_negative=True) == fen


def test_an_input_shows_plain_yuan_and_a_change_carries_its_sign():
    assert (yuan_text(165_000), yuan_text(-50), yuan_text(None)) == ("1650.00", "-0.50", "")
    assert (signed_fen(100), signed_fen(-2_500), signed_fen(0)) == ("+¥1.00", "-¥25.00", "¥0.00")


# --- 折 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("off", "scale", "text"),
    [
        (12, 100, "8.8折"),
        (20, 100, "8折"),
        (99, 100, "0.1折"),
        (1_150, 10_000, "8.85折"),
        (500, 10_000, "9.5折"),
        (1_000, 10_000, "9折"),
    ],
)
def test_a_stored_discount_reads_as_zhe(off, scale, text):
    assert format_zhe(off, scale=scale) == text
    assert parse_zhe(text, scale=scale) == off


def test_nothing_off_reads_as_no_discount():
    with translation.override("zh-hans"):
        assert format_zhe(0, scale=100) == "不打折"
        assert zhe_preview(0, scale=10_000) == "不打折：¥100 的订单实付 ¥100.00"
        assert zhe_preview(12, scale=100) == "¥100 的订单实付 ¥88.00"
        assert zhe_preview(1_150, scale=10_000) == "¥100 的订单实付 ¥88.50"


@pytest.mark.parametrize(
    ("typed", "scale", "code"),
    [
        ("8.85", 100, "decimals"),  # a percent holds one decimal of 折
        ("8.888", 10_000, "decimals"),
        ("10", 100, "invalid"),
        ("0", 100, "invalid"),
        ("9.95", 100, "decimals"),
        ("0.05", 100, "decimals"),
        ("-1", 100, "invalid"),
        ("八八", 100, "invalid"),
        ("88%", 100, "invalid"),
        ("", 100, "invalid"),
    ],
)
def test_a_discount_outside_zhe_or_finer_than_the_stored_unit_is_refused(typed, scale, code):
    with pytest.raises(ValidationError) as refused:
        parse_zhe(typed, scale=scale)

    assert refused.value.code == code


@given(st.integers(min_value=1, max_value=99))
def test_every_percent_off_reads_back_through_zhe(off):
    assert parse_zhe(f"{zhe_of(off, scale=100):f}", scale=100) == off


@given(st.integers(min_value=1, max_value=999).map(lambda n: n * 10))
def test_every_basis_points_off_to_a_hundredth_of_zhe_reads_back(off):
    assert parse_zhe(format_zhe(off, scale=10_000), scale=10_000) == off


# --- the form fields -----------------------------------------------------------------------------------


class PriceForm(forms.Form):
    price_fen = YuanField(label="价格", min_value=100)
    cap_fen = YuanField(label="上限", required=False)
    change_fen = YuanField(label="调整", min_value=-MAX_FEN, required=False)
    percent_off = ZheField(scale=100)


def test_the_yuan_field_cleans_to_fen_and_shows_fen_as_yuan():
    form = PriceForm({"price_fen": "¥1,650.00", "cap_fen": "", "change_fen": "-25", "percent_off": "8.8"})

    assert form.is_valid(), form.errors
    assert form.cleaned_data == {
        "price_fen": 165_000,
        "cap_fen": None,
        "change_fen": -2_500,
        "percent_off": 12,
    }
    shown = str(PriceForm(initial={"price_fen": 165_000, "percent_off": 12})["price_fen"])
    assert 'value="1650.00"' in shown and "¥" in shown and 'inputmode="decimal"' in shown


def test_the_yuan_field_refuses_below_its_minimum_and_shows_what_was_typed_again():
    with translation.override("zh-hans"):
        form = PriceForm({"price_fen": "0.99", "cap_fen": "-1", "percent_off": "8.85"})

        assert not form.is_valid()
        assert form.errors["price_fen"] == ["金额不能低于 ¥1.00。"]
        assert form.errors["cap_fen"] == ["金额不能为负数。"]
        assert "1 位小数" in form.errors["percent_off"][0]
        assert 'value="0.99"' in str(form["price_fen"])


def test_the_same_amount_typed_differently_is_no_change():
    form = PriceForm(
        {"price_fen": "1,650", "cap_fen": "", "percent_off": "8.8"},
        initial={"price_fen": 165_000, "cap_fen": None, "percent_off": 12},
    )

    assert form.is_valid() and form.changed_data == []


def test_the_zhe_field_shows_its_preview_and_brings_its_script():
    with translation.override("zh-hans"):
        shown = str(PriceForm(initial={"percent_off": 12})["percent_off"])
        empty = PriceForm({"price_fen": "1"})

    assert 'value="8.8"' in shown and "¥100 的订单实付 ¥88.00" in shown
    assert "loyalty/zhe.js" in str(PriceForm().media)
    assert empty.is_valid() and empty.cleaned_data["percent_off"] == 0  # empty: no discount
