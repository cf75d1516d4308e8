"""Values as people type them (spec §3): every rule, one small table of examples each.

Expectations are written from the spec, never copied from a run: where a number is derived
the arithmetic is in the comment beside it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfxl.read import values
from perfxl.read.values import (
    is_empty_text,
    parse_code,
    parse_date,
    parse_field,
    parse_grade,
    parse_int,
    parse_money,
    parse_percent,
    parse_score,
    parse_text,
    parse_year,
)

GRADES = ("优秀", "良好", "中", "差")
FULLWIDTH = str.maketrans("0123456789,.", "０１２３４５６７８９，．")


def ok(parsed, expected):
    """The parse succeeded, with no problem, and gave `expected` (compared exactly)."""
    assert parsed.problem is None, parsed.problem
    assert parsed.value == expected
    assert type(parsed.value) is type(expected)


def problem(parsed) -> str:
    assert parsed.value is None
    assert parsed.problem is not None
    return parsed.problem[0]


# -- blank tokens ----------------------------------------------------------------------------

BLANK_TOKENS = ["", " ", "\u3000", "  \t ", "无", "暂无", "不适用", "没有", "/", "-", "—", "－",
                "N/A", "n/a", " 无 "]
BLANK_PARSERS = {
    "money": parse_money,
    "int": parse_int,
    "percent": parse_percent,
    "date": parse_date,
    "year": parse_year,
    "text": parse_text,
    "code": parse_code,
    "score": parse_score,
    "grade": lambda raw: parse_grade(raw, GRADES),
}


@pytest.mark.parametrize("kind", sorted(BLANK_PARSERS))
@pytest.mark.parametrize("raw", [None, *BLANK_TOKENS])
def test_blank_tokens_mean_blank_for_every_type(kind, raw):
    parsed = BLANK_PARSERS[kind](raw)
    assert parsed.value is None
    assert parsed.problem is None
    assert parsed.note is None
    assert parsed.blank


def test_a_zero_is_not_blank():
    ok(parse_money(0), Decimal(0))
    ok(parse_int("0"), 0)


# -- money -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (2999.76, Decimal("2999.76")),  # a float enters as Decimal(repr(f))
        (3000, Decimal("3000")),
        ("2999.76", Decimal("2999.76")),
        ("2,999.76", Decimal("2999.76")),
        ("1,234,567.5", Decimal("1234567.5")),
        ("２，９９９．７６", Decimal("2999.76")),  # full-width digits and punctuation
        ("２９９９．７６万元", Decimal("2999.76")),
        ("2999.76万元", Decimal("2999.76")),
        ("2999.76万", Decimal("2999.76")),
        ("  2,999.76 万元  ", Decimal("2999.76")),  # surrounding spaces
        ("\u30002999.76\u3000", Decimal("2999.76")),  # ideographic spaces
        (".5", Decimal("0.5")),
    ],
)
def test_money_as_typed(raw, expected):
    ok(parse_money(raw), expected)


@pytest.mark.parametrize("raw", ["1234.5678", 1234.5678, "0.0001", "1,000.0001"])
def test_money_keeps_four_decimals_exactly(raw):
    parsed = parse_money(raw)
    assert parsed.problem is None
    # the four decimals survive: no rounding to cents
    assert parsed.value == Decimal(str(raw).replace(",", ""))
    assert parsed.value.as_tuple().exponent == -4


@pytest.mark.parametrize("raw", ["3000元", "29,997,600元", "0.3亿元", "３０００ 元"])
def test_money_in_other_units_is_refused_never_converted(raw):
    parsed = parse_money(raw)
    assert problem(parsed) == "type-error"
    assert "金额单位应为万元" in parsed.problem[1]
    assert raw in parsed.problem[1] or values.show(raw) in parsed.problem[1]  # quotes what was there


@pytest.mark.parametrize("raw", ["abc", "2,99,9.76", "29,99.76", "1.2.3", "三千", "1e5"])
def test_money_that_is_not_a_number_is_a_type_error(raw):
    parsed = parse_money(raw)
    assert problem(parsed) == "type-error"
    assert raw in parsed.problem[1]


@pytest.mark.parametrize("raw", [-3, -3.0, "-3", "(3.00)", "（3.00）", "−3", "－3", "-2,999.76万元"])
def test_negative_money_is_out_of_range(raw):
    assert problem(parse_money(raw)) == "value-out-of-range"


# -- integers --------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [63, "63", 63.0, " 63 ", "６３"])
def test_integers(raw):
    ok(parse_int(raw), 63)


@pytest.mark.parametrize("raw", [63.5, "63.5", "六十三", "abc"])
def test_non_integers_are_type_errors(raw):
    assert problem(parse_int(raw)) == "type-error"


@pytest.mark.parametrize("raw", [-3, "-3", "－3"])
def test_negative_counts_are_out_of_range(raw):
    assert problem(parse_int(raw)) == "value-out-of-range"


# -- percents --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("96.5%", Decimal("0.965")),  # 96.5 / 100
        ("96.5％", Decimal("0.965")),  # full-width percent sign
        ("９６．５％", Decimal("0.965")),
        ("100%", Decimal("1")),
        ("0%", Decimal("0")),
        (0.965, Decimal("0.965")),  # 0 ≤ v ≤ 1 is a fraction
        (1, Decimal("1")),  # 1 means 100%
        (0, Decimal("0")),
    ],
)
def test_percents(raw, expected):
    parsed = parse_percent(raw)
    assert parsed.problem is None
    assert parsed.note is None
    assert parsed.value == expected


@pytest.mark.parametrize(("raw", "expected"), [(96.5, Decimal("0.965")), (100, Decimal("1")), (50, Decimal("0.5"))])
def test_a_number_above_one_is_taken_as_a_percentage_with_a_note(raw, expected):
    parsed = parse_percent(raw)
    assert parsed.problem is None
    assert parsed.value == expected  # 96.5 / 100 = 0.965
    assert parsed.note is not None
    assert parsed.note[0] == "percent-assumed"
    assert values.show(raw) in parsed.note[1]  # quoting it


@pytest.mark.parametrize("raw", [150, -1, "150%", "-5%", 100.01])
def test_percent_out_of_range(raw):
    assert problem(parse_percent(raw)) == "value-out-of-range"


def test_percent_text_that_is_not_a_number_is_a_type_error():
    assert problem(parse_percent("很满意")) == "type-error"


# -- dates -----------------------------------------------------------------------------------

JUNE_4 = dt.date(2021, 6, 4)


def test_date_and_datetime_cells_keep_the_date_part():
    ok(parse_date(JUNE_4), JUNE_4)
    ok(parse_date(dt.datetime(2021, 6, 4, 15, 30)), JUNE_4)
    assert parse_date(JUNE_4).note is None


def test_serial_in_the_1900_system():
    # 2021-01-01 is serial 44197; Jan 31 + Feb 28 + Mar 31 + Apr 30 + May 31 = 151 days
    # -> 2021-06-01 = 44348, so 2021-06-04 = 44351.
    for raw in (44351, 44351.0):
        parsed = parse_date(raw)
        ok(parsed, JUNE_4)
        assert parsed.note is not None and parsed.note[0] == "date-from-serial"
        assert "44351" in parsed.note[1] and "2021-06-04" in parsed.note[1]


def test_serial_in_the_1904_system():
    # the 1904 system counts 1462 days fewer: 44351 (1904) = 45813 (1900), 1462 days after
    # 2021-06-04; four years with one leap day (2024-02-29) are 1461 days -> 2025-06-05.
    parsed = parse_date(44351, date1904=True)
    ok(parsed, dt.date(2025, 6, 5))
    assert parsed.note[0] == "date-from-serial"


@pytest.mark.parametrize("raw", [36525, 73051, 100, 44351.5, -44351])
def test_numbers_outside_the_serial_range_are_type_errors(raw):
    # 36526 = 2000-01-01 and 73050 = 2099-12-31 are the bounds
    assert problem(parse_date(raw)) == "type-error"


@pytest.mark.parametrize(("raw", "expected"), [(36526, dt.date(2000, 1, 1)), (73050, dt.date(2099, 12, 31))])
def test_serial_bounds_are_inclusive(raw, expected):
    ok(parse_date(raw), expected)


@pytest.mark.parametrize(
    "raw",
    ["2021-6-4", "2021-06-04", "2021/6/4", "2021.6.4", "2021年6月4日", "２０２１年６月４日",
     "２０２１－０６－０４", "20210604", " 2021-06-04 "],
)
def test_typed_dates(raw):
    parsed = parse_date(raw)
    ok(parsed, JUNE_4)
    assert parsed.note is None


@pytest.mark.parametrize("raw", ["2021-02-30", "2021-13-01", "20211304", "6/4/2021", "去年六月", "2021年6月"])
def test_invalid_dates_are_type_errors(raw):
    parsed = parse_date(raw)
    assert problem(parsed) == "type-error"
    assert raw in parsed.problem[1]


# -- years -----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [2020, 2020.0, "2020", "2020年", "2020年度", "２０２０年度", " 2020 "])
def test_years(raw):
    ok(parse_year(raw), 2020)


@pytest.mark.parametrize("raw", [1999, 2100, "1999年", "2020.5", "20年", "二〇二〇年"])
def test_years_outside_2000_2099_or_not_integers_are_refused(raw):
    assert problem(parse_year(raw)) == "type-error"


# -- text and codes --------------------------------------------------------------------------


def test_an_integral_number_in_a_text_field_becomes_its_digits():
    ok(parse_text(13800138000.0), "13800138000")  # a phone typed as a number
    ok(parse_text(13800138000), "13800138000")
    ok(parse_text("0759-1234567"), "0759-1234567")


@pytest.mark.parametrize(("raw", "expected"), [
    (" zj 001 ", "ZJ001"),
    ("ｚｊ００１", "ZJ001"),  # NFKC
    ("zj\u3000001", "ZJ001"),  # an ideographic space is whitespace too
    ("T001", "T001"),
    (1001.0, "1001"),
])
def test_unit_code_is_folded_upper_cased_and_compared_as_a_string(raw, expected):
    ok(parse_code(raw), expected)


def test_codes_with_leading_zeros_stay_strings():
    ok(parse_code("00123"), "00123")


# -- scores and grades -----------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    (4.5, Decimal("4.5")), ("4.5", Decimal("4.5")), ("4.5分", Decimal("4.5")),
    ("5 分", Decimal("5")), ("１５分", Decimal("15")), (0, Decimal("0")),
])
def test_scores(raw, expected):
    parsed = parse_score(raw)
    assert parsed.problem is None
    assert parsed.value == expected


def test_a_score_that_is_not_a_number_is_a_problem():
    assert parse_score("满分").problem is not None


@pytest.mark.parametrize(("raw", "expected"), [
    ("优", "优秀"), ("优秀", "优秀"), ("良", "良好"), ("良好", "良好"),
    ("中", "中"), ("中等", "中"), ("合格", "中"), ("差", "差"), ("不合格", "差"), (" 优 秀 ", "优秀"),
])
def test_grades_are_normalised_to_the_rubric_labels(raw, expected):
    ok(parse_grade(raw, GRADES), expected)


def test_an_unknown_grade_is_a_type_error():
    assert problem(parse_grade("A", GRADES)) == "type-error"


# -- "empty" text ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "  ", "无", "无。", "暂无！", "没有", "无问题", "不适用", "—", "……",
                                  " 无 \n", "（无）"])
def test_empty_text(text):
    assert is_empty_text(text) is True


@pytest.mark.parametrize("text", ["存在问题一：资产管理不规范。", "无超预算支出，审批完整", "有", "0"])
def test_text_that_says_something_is_not_empty(text):
    assert is_empty_text(text) is False


# -- properties ------------------------------------------------------------------------------

MONEY = st.decimals(min_value=0, max_value=Decimal("999999999999"), places=4, allow_nan=False,
                    allow_infinity=False)


@given(MONEY)
def test_money_with_thousands_separators_round_trips_exactly(d):
    text = format(d, ",f")  # e.g. 1,234,567.8900
    parsed = parse_money(text)
    assert parsed.problem is None
    assert parsed.value == d


@given(MONEY)
def test_full_width_money_round_trips_exactly(d):
    text = format(d, ",f").translate(FULLWIDTH) + "万元"
    parsed = parse_money(text)
    assert parsed.problem is None
    assert parsed.value == d


@given(st.decimals(min_value=0, max_value=100, places=3, allow_nan=False, allow_infinity=False))
def test_percent_text_is_divided_by_100(x):
    parsed = parse_percent(f"{x}%")
    assert parsed.problem is None
    assert parsed.value == x / 100


KINDS = ("money", "int", "percent", "date", "year", "code", "choice", "longtext", "text")


def _parse_all(raw) -> None:
    for kind in KINDS:
        parsed = parse_field(kind, raw, choices=("行政单位", "事业单位"))
        assert isinstance(parsed, values.Parsed)
        assert parsed.value is not None or parsed.problem is not None or parsed.blank
    assert isinstance(parse_score(raw), values.Parsed)
    assert isinstance(parse_grade(raw, GRADES), values.Parsed)
    assert isinstance(parse_date(raw, date1904=True), values.Parsed)


@given(st.text())
def test_parsers_never_raise_on_text(raw):
    _parse_all(raw)


@given(st.floats())
def test_parsers_never_raise_on_floats(raw):
    _parse_all(raw)


@given(st.one_of(st.integers(), st.booleans(), st.dates(), st.datetimes(), st.none()))
def test_parsers_never_raise_on_other_cell_values(raw):
    _parse_all(raw)


@pytest.mark.parametrize("kind", KINDS)
def test_nan_and_infinity_never_raise(kind):
    # calamine can hand over a float that is not finite (a corrupt or hand-made file); one bad
    # cell must become a finding, never an exception that stops the file
    for raw in (float("nan"), float("inf"), float("-inf")):
        parsed = parse_field(kind, raw, choices=("行政单位",))
        assert isinstance(parsed, values.Parsed)
        if kind in ("money", "int", "percent", "date", "year"):
            assert parsed.value is None and parsed.problem is not None
