"""The expression language of forms (spec §12): parsing, checking, evaluating, Excel formulas."""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import pickle
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import require_programs
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from perfxl.spec.expr import Binary, Call, ExprError, Field, Group, Neg, Number, check, parse, parse_condition
from perfxl.spec.expr_eval import Result, evaluate, evaluate_condition, tolerance_for
from perfxl.spec.expr_excel import blank_test, condition_to_excel, name_problem, to_excel

D = Decimal
DEADLINE = dt.date(2021, 6, 20)
a, b, c = Field("a"), Field("b"), Field("c")


def value(text: str, **values: object) -> object:
    res = evaluate(parse(text), values, DEADLINE)
    assert res.status == "ok", res
    return res.value


# -- parsing and precedence ---------------------------------------------------------------

def test_precedence_and_left_associativity():
    assert parse("a+b*c") == Binary("+", a, Binary("*", b, c))
    assert parse("a-b-c") == Binary("-", Binary("-", a, b), c)
    assert parse("a/b*c") == Binary("*", Binary("/", a, b), c)
    assert value("a-b-c", a=10, b=4, c=2) == 4
    assert value("a/b*c", a=10, b=4, c=2) == 5
    assert value("a-(b-c)", a=10, b=4, c=2) == 8
    assert value("a/(b*c)", a=10, b=4, c=2) == D("1.25")


def test_unary_minus_binds_tighter_than_times():
    assert parse("-a*b") == Binary("*", Neg(a), b)
    assert parse("--a") == Neg(Neg(a))
    assert parse("a*-b") == Binary("*", a, Neg(b))
    assert parse("+a") == a  # Excel's =+a habit: unary plus is dropped
    assert value("-(a+b)*2", a=1, b=2) == -6
    assert value("a--b", a=1, b=2) == 3


def test_percent_is_exact_and_prints_back():
    assert parse("95%") == Number(D("0.95"), True)
    assert str(parse("95%*a")) == "95%*a"
    assert value("95%") == D("0.95")
    assert value("12.5%") == D("0.125")
    assert str(parse("12.50%")) == "12.50%"


def test_full_width_input_as_typed_with_a_chinese_ime():
    assert parse("（ａ＋ｂ）×２÷３") == parse("(a+b)*2/3")
    assert parse("ＭＩＮ（ａ，ｂ）") == parse("MIN(a,b)")
    assert parse("９５％") == parse("95%")
    assert parse("a − b") == parse("a-b")  # U+2212, the minus sign the spec itself prints
    assert parse("a\u3000+\u3000b") == parse("a+b")
    assert parse_condition("a ≤ b").op == "<="
    assert parse_condition("a＞＝b").op == ">="
    assert parse_condition("a ≧ b").op == ">="
    assert parse_condition("a＝b").op == "="
    # positions count what the author typed, full-width characters one each
    with pytest.raises(ExprError) as e:
        parse("（ａ＋＊ｂ）")
    assert e.value.position == 4


def test_a_leading_equals_sign_and_function_case_are_forgiven():
    assert parse("=abs(a)") == Call("ABS", (a,))
    assert parse(" = a ") == a


def test_fields_in_order_of_appearance_each_once():
    assert parse("b+a*b-MIN(c,a)").fields() == ("b", "a", "c")
    assert parse_condition("c = b+a+c").fields() == ("c", "b", "a")
    assert parse("1+2").fields() == ()


def test_canonical_text_keeps_the_authors_parentheses():
    assert str(parse(" ( staff_actual ) / ( staff_quota ) ")) == "(staff_actual)/(staff_quota)"
    assert str(parse("DAYS( x ,y )")) == "DAYS(x,y)"
    assert str(parse(".5+5.")) == "0.5+5"
    assert str(parse_condition("a+b<=c")) == "a+b <= c"
    assert parse("(a)") == Group(a)


# -- evaluation ---------------------------------------------------------------------------

def test_every_function():
    assert value("ABS(a-b)", a=3, b=5) == 2
    assert value("MIN(a,b,c)", a=3, b=-5, c=D("0.5")) == -5
    assert value("MAX(a)", a=3) == 3
    assert value("MAX(a,b,c)", a=3, b=-5, c=D("7.5")) == D("7.5")
    assert value("SUM(a,b,c)", a=1, b=2, c=D("0.25")) == D("3.25")
    assert value("DAYS(x,y)", x=dt.date(2020, 1, 10), y=dt.date(2020, 2, 1)) == 22
    assert value("DAYS_LATE(d)", d=dt.date(2021, 6, 20)) == 0
    assert value("DAYS_LATE(d)", d=dt.date(2021, 6, 25)) == 5
    assert value("DAYS_LATE(d)", d=dt.date(2021, 6, 1)) == 0


def test_integers_stay_integers_and_divisions_are_decimal():
    assert type(value("a+b*c", a=1, b=2, c=3)) is int
    assert type(value("a+1", a=1)) is Decimal  # literals are Decimal
    assert type(value("DAYS(x,y)", x=dt.date(2020, 1, 1), y=dt.date(2020, 1, 2))) is int
    got = value("a/b", a=63, b=70)
    assert got == D(63) / D(70) and isinstance(got, Decimal)  # exactly what the scorer computes


def test_inputs_as_the_reader_gives_them():
    assert value("a+b", a=0.1, b=0.2) == D("0.3")  # spec §4.2: a float enters as Decimal(repr(f))
    assert value("DAYS(x,y)", x=dt.datetime(2020, 1, 1, 12), y=dt.date(2020, 1, 3)) == 2
    with pytest.raises(ExprError, match="不是数字或日期"):
        evaluate(parse("a+1"), {"a": "十"})
    with pytest.raises(ExprError, match="没有字段“b”的值"):
        evaluate(parse("a+b"), {"a": 1})


def test_a_blank_input_makes_the_result_blank_and_names_it():
    res = evaluate(parse("(sangong_budget-sangong_budget_prev)/sangong_budget_prev"),
                   {"sangong_budget": None, "sangong_budget_prev": D(5)})
    assert (res.status, res.blank, res.all_blank, res.value) == ("blank", ("sangong_budget",), False, None)
    res = evaluate(parse("a/b+a"), {"a": None, "b": None})
    assert (res.status, res.blank, res.all_blank, res.counts_as_blank) == ("blank", ("a", "b"), True, True)


def test_zero_over_zero_counts_as_blank_and_n_over_zero_does_not():
    res = evaluate(parse("a/b"), {"a": 0, "b": D("0.00")})
    assert (res.status, res.counts_as_blank, res.numerator, res.denominator) == ("zero-over-zero", True, 0, 0)
    res = evaluate(parse("(a-b)/b"), {"a": D("12.5"), "b": 0})
    assert (res.status, res.counts_as_blank, res.numerator, res.denominator) == ("zero-denominator", False, D("12.5"), 0)
    assert res.value is None
    assert evaluate(parse("a/b"), {"a": -3, "b": 0}).status == "zero-denominator"


def test_days_negative_is_reported_for_date_order():
    res = evaluate(parse("DAYS(budget_approved_date, budget_published_date)"),
                   {"budget_approved_date": dt.date(2020, 3, 10), "budget_published_date": dt.date(2020, 3, 1)})
    assert res.value == -9
    assert res.negative_days == (("budget_approved_date", "budget_published_date", -9),)


def test_days_late_needs_the_deadline():
    with pytest.raises(ExprError, match="报送截止日期"):
        evaluate(parse("DAYS_LATE(d)"), {"d": dt.date(2021, 7, 1)})


def test_a_date_in_arithmetic_is_refused_at_evaluation_too():
    with pytest.raises(ExprError, match="不能直接加减乘除") as e:
        evaluate(parse("1+d"), {"d": dt.date(2021, 7, 1)})
    assert e.value.position == 3


# -- conditions ---------------------------------------------------------------------------

MONEY = D("0.01")


@pytest.mark.parametrize(("text", "left", "right", "holds"), [
    ("a = b", "100.01", "100", True), ("a = b", "100.011", "100", False),
    ("a = b", "99.99", "100", True), ("a = b", "99.989", "100", False),
    ("a <= b", "100.01", "100", True), ("a <= b", "100.011", "100", False),
    ("a < b", "100.009", "100", True), ("a < b", "100.01", "100", False),
    ("a >= b", "99.99", "100", True), ("a >= b", "99.989", "100", False),
    ("a > b", "99.991", "100", True), ("a > b", "99.99", "100", False),
])
def test_money_tolerance_at_the_edge(text, left, right, holds):
    got = evaluate_condition(parse_condition(text), {"a": D(left), "b": D(right)}, tolerance=MONEY)
    assert (got.holds, got.left, got.right, got.diff) == (holds, D(left), D(right), D(left) - D(right))


def test_integers_and_dates_compare_exactly():
    assert evaluate_condition(parse_condition("a=b"), {"a": 5, "b": 5}).holds is True
    assert evaluate_condition(parse_condition("a<=b"), {"a": 6, "b": 5}).holds is False
    dates = {"x": dt.date(2020, 3, 10), "y": dt.date(2020, 3, 1)}
    got = evaluate_condition(parse_condition("y >= x"), dates, tolerance=MONEY)
    assert (got.holds, got.diff) == (False, -9)
    assert evaluate_condition(parse_condition("x > y"), dates).holds is True
    with pytest.raises(ExprError, match="日期只能与日期比较"):
        evaluate_condition(parse_condition("x > a"), {**dates, "a": 1})


def test_a_condition_with_a_blank_or_a_zero_denominator_does_not_run():
    got = evaluate_condition(parse_condition("a+b = c"), {"a": 1, "b": None, "c": None})
    assert (got.holds, got.status, got.blank) == (None, "blank", ("b", "c"))
    got = evaluate_condition(parse_condition("a/b <= 1"), {"a": 1, "b": 0})
    assert (got.holds, got.status) == (None, "zero-denominator")


def test_the_balance_check_of_the_built_in_form():
    cond = parse_condition("carryover_begin + income_total = expense_total + carryover_end")
    types = {"carryover_begin": "money", "income_total": "money", "expense_total": "money", "carryover_end": "money"}
    assert tolerance_for(cond, types) == D("0.01")
    assert tolerance_for(parse_condition("a <= b"), {"a": "int", "b": "整数"}) == 0
    got = evaluate_condition(cond, {"carryover_begin": D("10.5"), "income_total": D("100"),
                                    "expense_total": D("95.2"), "carryover_end": D("15")}, tolerance=tolerance_for(cond, types))
    assert (got.holds, got.left, got.right, got.diff) == (False, D("110.5"), D("110.2"), D("0.3"))


@pytest.mark.parametrize(("text", "position", "words"), [
    ("a", 2, "需要一个比较符号"),
    ("a < b < c", 7, "只能有一个"),
    ("a <> b", 3, "不支持“不等于”"),
    ("a ≠ b", 3, "不支持“不等于”"),
    ("a != b", 3, "不支持“不等于”"),
    ("= a", 1, "缺少数字或字段"),
    ("a = ", 5, "末尾缺少"),
])
def test_bad_conditions(text, position, words):
    with pytest.raises(ExprError) as e:
        parse_condition(text)
    assert e.value.position == position and words in e.value.message


# -- checking against the form's fields ---------------------------------------------------

TYPES = {"income_fiscal": "money", "budget_initial": "money", "unit_name": "text", "filing_date": "date",
         "budget_approved_date": "date", "budget_published_date": "日期", "staff_actual": "int", "staff_quota": "整数"}


def problems(text: str) -> list[tuple[int, str]]:
    node = parse_condition(text) if any(op in text for op in "=<>") else parse(text)
    return [(p.position, p.message) for p in check(node, TYPES)]


def test_a_correct_formula_has_no_problems():
    assert problems("ABS(income_fiscal-budget_initial)/budget_initial") == []
    assert problems("DAYS(budget_approved_date, budget_published_date)") == []
    assert problems("budget_published_date >= budget_approved_date") == []
    assert problems("staff_actual <= staff_quota * 105%") == []


def test_every_problem_at_once_with_its_position():
    got = problems("income_fiscl + unit_name + filing_date")
    assert got == [
        (1, "表单中没有字段键“income_fiscl”，是否应为“income_fiscal”？"),
        (16, "字段“unit_name”是文本，不能用于计算"),
        (28, "日期“filing_date”不能直接加减乘除；日期只能用在 DAYS(开始日期, 结束日期)、DAYS_LATE(日期) 中，"
             "或单独作为校验条件的一边"),
    ]


def test_dates_only_inside_days_or_alone_in_a_condition():
    got = problems("MIN(filing_date, budget_approved_date)")
    assert [p for p, _ in got] == [5, 18] and all("”不能放进 MIN；日期只能用在 DAYS" in m for _, m in got)
    assert problems("DAYS(staff_actual, filing_date)") == [(6, "函数 DAYS 的参数应是日期字段，“staff_actual”是整数")]
    assert problems("filing_date") == [(1, "指标值不能只是一个日期，请用 DAYS 或 DAYS_LATE 算出天数")]
    assert problems("filing_date > staff_actual") == [(13, "日期只能与日期比较；要比较天数请用 DAYS(开始日期, 结束日期)")]
    assert problems("DAYS_LATE(filing_date) <= 5") == []


# -- hostile text -------------------------------------------------------------------------

HOSTILE = [
    ("__import__('os').system('touch /tmp/perfxl-expr-pwned')", 1, "不认识的函数“__import__”"),
    ("a.b", 2, "小数点"),
    ("a.__class__", 2, "小数点"),
    ("a[0]", 2, "方括号"),
    ("{1: 2}", 1, "花括号"),
    ("POW(2,3)", 1, "不认识的函数“POW”，可用：ABS、MIN、MAX、SUM、DAYS、DAYS_LATE"),
    ("eval(a)", 1, "不认识的函数“eval”"),
    ("2**3", 2, "不支持乘方“**”"),
    ("2^3", 2, "不支持乘方“^”"),
    ("a" * 600, 501, "公式太长（600 个字符），最多 500 个"),
    ("(" * 50 + "a" + ")" * 50, 21, "嵌套超过 20 层"),
    ("ABS(" * 50 + "a" + ")" * 50, 81, "嵌套超过 20 层"),
    ("-" * 50 + "a", 21, "嵌套超过 20 层"),
    ("1e999", 1, "不支持科学计数法“1e999”"),
    ("2E-3", 1, "不支持科学计数法“2E-3”"),
    ("1234567890123456", 1, "超过 15 位有效数字"),
    ('"text"', 1, "文字或引号"),
    ("“文字”", 1, "文字或引号"),
    ("lambda: 1", 7, "不认识的字符“:”"),
    ("a if b else c", 3, "“if”前缺少运算符"),
    ("a;b", 2, "不认识的字符“;”"),
    ("a\x00", 2, "不认识的字符"),
    ("收入合计/预算", 1, "不要写中文名称"),
    ("Income", 1, "是否应为“income”？"),
    ("1.2.3", 1, "数字“1.2.3”写法不对"),
    ("a%", 2, "百分号只能紧跟在数字后面"),
    ("ABS", 1, "后面应有括号"),
    ("ABS()", 1, "需要 1 个参数，这里有 0 个"),
    ("DAYS(a)", 1, "需要 2 个参数"),
    ("DAYS(a+1, b)", 1, "参数应是日期字段键"),
    ("MIN(a, )", 8, "多余的右括号"),
    ("MIN(a b)", 7, "“b”前缺少运算符"),
    ("(a", 1, "括号没有闭合"),
    ("a)", 2, "多余的右括号"),
    ("a,b", 2, "逗号只能用在函数的括号里"),
    ("a = b", 3, "比较只用于校验条件"),
    ("a+", 3, "末尾缺少数字或字段"),
    ("*a", 1, "运算符“*”前后缺少数字或字段"),
    ("", 1, "公式为空"),
    ("   ", 1, "公式为空"),
    ("a、b", 2, "逗号分隔"),
    ("a²", 2, "不认识的字符“²”"),  # NFKC would have made it the field a2
]


@pytest.mark.parametrize(("text", "position", "words"), HOSTILE)
def test_hostile_text_is_an_error_with_a_position_and_runs_nothing(text, position, words, monkeypatch):
    def refuse(*_args, **_kw):
        raise AssertionError("the parser tried to run something")

    for name in ("eval", "exec", "compile", "__import__"):
        monkeypatch.setattr(builtins, name, refuse)
    with pytest.raises(ExprError) as e:
        parse(text)
    monkeypatch.undo()
    assert e.value.position == position, e.value
    assert words in e.value.message, e.value
    assert str(e.value) == f"第 {position} 个字符：{e.value.message}"
    assert not Path("/tmp/perfxl-expr-pwned").exists()


def test_limits_are_inclusive():
    parse("a" * 500)
    parse("(" * 20 + "a" + ")" * 20)
    parse("123456789012345")
    parse("0.000000000000001234")  # leading zeros are not significant


def test_a_long_flat_chain_stays_within_the_limits():
    text = "+".join(["a"] * 250)[:499]
    expr = parse(text)
    assert str(expr) == text
    assert evaluate(expr, {"a": 1}).value == 250
    assert to_excel(expr, str).startswith('=IF(COUNT(a)<1,"",a+a+')


def test_errors_survive_the_worker_pool():
    e = pickle.loads(pickle.dumps(ExprError("不认识的函数“POW”", 12)))
    assert (e.message, e.position, str(e)) == ("不认识的函数“POW”", 12, "第 12 个字符：不认识的函数“POW”")


def test_not_text_is_an_error():
    with pytest.raises(ExprError, match="应写成文字"):
        parse(0.95)  # type: ignore[arg-type]


# -- round trip, as a property ------------------------------------------------------------

KEYS = ("a", "b", "c")
numbers = st.builds(lambda i, f, pct: (f"{i}.{f}" if f else str(i)) + ("%" if pct else ""),
                    st.integers(0, 10**6), st.sampled_from(["", "5", "25", "05", "125"]), st.booleans())


def _join(parts: list[str], spaces: list[bool]) -> str:
    return "".join(p + (" " if s else "") for p, s in zip(parts, spaces, strict=False))


@st.composite
def texts(draw, depth: int = 0) -> str:
    """Well-formed expression text over a, b, c and dates x, y: random spacing, parentheses, width."""
    leaf = st.one_of(numbers, st.sampled_from(KEYS), st.just("DAYS(x,y)"), st.just("DAYS_LATE(y)"))
    if depth >= 4 or draw(st.integers(0, 3)) == 0:
        return draw(leaf)
    kind = draw(st.sampled_from(["bin", "bin", "neg", "group", "call"]))
    if kind == "bin":
        op = draw(st.sampled_from(["+", "-", "*", "/", "×", "÷", "－"]))
        parts = [draw(texts(depth + 1)), op, draw(texts(depth + 1))]
        return _join(parts, draw(st.lists(st.booleans(), min_size=3, max_size=3)))
    if kind == "neg":
        return "-" + draw(texts(depth + 1))
    if kind == "group":
        return draw(st.sampled_from(["(", "（"])) + draw(texts(depth + 1)) + draw(st.sampled_from([")", "）"]))
    name = draw(st.sampled_from(["ABS", "MIN", "MAX", "SUM", "abs"]))
    n = 1 if name.upper() == "ABS" else draw(st.integers(1, 3))
    sep = draw(st.sampled_from([",", "，", ", "]))
    return f"{name}({sep.join(draw(texts(depth + 1)) for _ in range(n))})"


field_values = st.one_of(st.none(), st.integers(-5, 5), st.decimals(-1000, 1000, places=2))
date_values = st.one_of(st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2022, 12, 31)))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(texts(), st.fixed_dictionaries({k: field_values for k in KEYS}),
       st.fixed_dictionaries({k: date_values for k in ("x", "y")}))
def test_any_well_formed_text_round_trips_and_evaluates_identically(text, numbers_in, dates_in):
    assume(len(text) <= 500)
    expr = parse(text)
    canonical = str(expr)
    again = parse(canonical)
    assert again == expr
    assert str(again) == canonical
    values = {**numbers_in, **dates_in}
    assert evaluate(again, values, DEADLINE) == evaluate(expr, values, DEADLINE)


def _strip(node):
    """The tree without Group nodes: what the canonical text must mean."""
    if isinstance(node, Group):
        return _strip(node.inner)
    if not dataclasses.is_dataclass(node):
        return node
    changes = {f.name: (tuple(_strip(x) for x in v) if isinstance(v, tuple) else _strip(v))
               for f in dataclasses.fields(node) if f.compare for v in [getattr(node, f.name)]}
    return dataclasses.replace(node, **changes)


trees = st.recursive(
    st.one_of(st.builds(Number, st.decimals(0, 10**6, places=3)), st.sampled_from([a, b, c])),
    lambda sub: st.one_of(st.builds(Neg, sub), st.builds(Binary, st.sampled_from("+-*/"), sub, sub),
                          st.builds(lambda name, args: Call(name, tuple(args)), st.sampled_from(["MIN", "MAX", "SUM"]),
                                    st.lists(sub, min_size=1, max_size=3))),
    max_leaves=10)


@given(trees)
def test_the_canonical_text_has_parentheses_exactly_where_the_tree_needs_them(tree):
    try:
        parsed = parse(str(tree))
    except ExprError as e:
        assume("嵌套" not in e.message)  # a generated tree may nest deeper than a form may
        raise
    assert _strip(parsed) == tree


# -- Excel formulas -----------------------------------------------------------------------

#: the computed indicators of gd-dept-2020 (spec §4.1) as form expressions, with the formula the
#: template writes in their 指标值 cell today: to_excel gives it byte for byte
BUILT_IN = {
    "A2": ("ABS(income_fiscal-budget_initial)/budget_initial",
           '=IF(COUNT(income_fiscal,budget_initial)<2,"",IFERROR(ABS(income_fiscal-budget_initial)/budget_initial,""))'),
    "A3": ("(staff_actual)/(staff_quota)",
           '=IF(COUNT(staff_actual,staff_quota)<2,"",IFERROR((staff_actual)/(staff_quota),""))'),
    "A4": ("(sangong_budget-sangong_budget_prev)/sangong_budget_prev",
           '=IF(COUNT(sangong_budget,sangong_budget_prev)<2,"",IFERROR((sangong_budget-sangong_budget_prev)/sangong_budget_prev,""))'),
    "B1": ("(expense_total)/(carryover_begin+income_total)",
           '=IF(COUNT(expense_total,carryover_begin,income_total)<3,"",IFERROR((expense_total)/(carryover_begin+income_total),""))'),
    "B2": ("(sangong_actual)/(sangong_budget)",
           '=IF(COUNT(sangong_actual,sangong_budget)<2,"",IFERROR((sangong_actual)/(sangong_budget),""))'),
    "B3": ("(procurement_actual)/(procurement_budget)",
           '=IF(COUNT(procurement_actual,procurement_budget)<2,"",IFERROR((procurement_actual)/(procurement_budget),""))'),
    "B5": ("(fixed_assets_in_use)/(fixed_assets_total)",
           '=IF(COUNT(fixed_assets_in_use,fixed_assets_total)<2,"",IFERROR((fixed_assets_in_use)/(fixed_assets_total),""))'),
    "C1": ("DAYS(budget_approved_date, budget_published_date)",
           '=IF(COUNT(budget_approved_date,budget_published_date)<2,"",budget_published_date-budget_approved_date)'),
    "C3": ("DAYS_LATE(filing_date)", '=IF(COUNT(filing_date)<1,"",MAX(0,filing_date-DATE(2021,6,20)))'),
    "D1": ("(key_tasks_done)/(key_tasks_planned)",
           '=IF(COUNT(key_tasks_done,key_tasks_planned)<2,"",IFERROR((key_tasks_done)/(key_tasks_planned),""))'),
    "D3": ("satisfaction", '=IF(COUNT(satisfaction)<1,"",satisfaction)'),
}


@pytest.mark.parametrize("code", sorted(BUILT_IN))
def test_the_default_rubric_formulas(code):
    text, formula = BUILT_IN[code]
    assert to_excel(parse(text), str, DEADLINE) == formula


def test_excel_formulas_over_other_names():
    name = {"a": "项目1!spent", "b": "项目1!budget_annual"}.get
    assert to_excel(parse("MIN(a/b, 1)*95%"), name) == \
        '=IF(COUNT(项目1!spent,项目1!budget_annual)<2,"",IFERROR(MIN(项目1!spent/项目1!budget_annual,1)*0.95,""))'
    assert to_excel(parse("-DAYS(x,y)/7"), str) == '=IF(COUNT(x,y)<2,"",IFERROR(-(y-x)/7,""))'
    assert to_excel(parse("1+2"), str) == "=1+2"
    assert blank_test(["a", "b"], str) == "COUNT(a,b)<2"
    with pytest.raises(ExprError, match="报送截止日期"):
        to_excel(parse("DAYS_LATE(d)"), str)


def test_excel_conditions():
    cond = parse_condition("carryover_begin+income_total = expense_total+carryover_end")
    assert condition_to_excel(cond, str, MONEY) == \
        "ABS(ROUND(carryover_begin+income_total-(expense_total+carryover_end),9))<=0.01"
    assert condition_to_excel(parse_condition("a <= b-c"), str, MONEY) == "ROUND(a-(b-c),9)<=0.01"
    assert condition_to_excel(parse_condition("a > b"), str, MONEY) == "ROUND(a-b,9)>-0.01"
    assert condition_to_excel(parse_condition("y >= x"), str) == "y>=x"


@pytest.mark.parametrize("key", ["tax2020", "a1", "xfd1048576", "c", "r", "rc", "r1c1", "c12"])
def test_keys_excel_reads_as_cells_cannot_be_names(key):
    assert f"字段键“{key}”在 Excel 中" in name_problem(key)


@pytest.mark.parametrize("key", ["income_fiscal", "sangong2020", "xfe1", "a1048577", "staff_quota_admin", "amt_c", "cr"])
def test_other_keys_can_be_names(key):
    assert name_problem(key) is None


# -- the same numbers in a real spreadsheet program ---------------------------------------

# amt_a, not a: c and r are not names Excel accepts (see name_problem)
EXTRA = ["MIN(amt_a,amt_b)*95%", "MAX(amt_a,amt_b,amt_c)-SUM(amt_a,amt_b,amt_c)/3", "-ABS(amt_a-amt_b)/amt_c",
         "amt_a-amt_b-amt_c", "amt_a/amt_b*amt_c", "DAYS(budget_approved_date, budget_published_date)/7", "amt_a--amt_b",
         "SUM(amt_a)", "-(amt_c-amt_a)*12.5%"]
CONDITIONS = ["amt_a = amt_b", "amt_a <= amt_b", "amt_a < amt_b", "amt_a >= amt_b", "amt_a > amt_b",
              "amt_a+amt_b = amt_c", "budget_published_date >= budget_approved_date"]
GOOD = {"income_fiscal": D("1180.5"), "budget_initial": D("1200"), "staff_actual": 63, "staff_quota": 70,
        "sangong_budget": D("12.3"), "sangong_budget_prev": D("13"), "expense_total": D("1234.56"),
        "carryover_begin": D("50.25"), "income_total": D("1250.75"), "sangong_actual": D("11.9"),
        "procurement_actual": D("88.8"), "procurement_budget": D("100"), "fixed_assets_in_use": D("950.5"),
        "fixed_assets_total": D("1000"), "budget_approved_date": dt.date(2020, 1, 20),
        "budget_published_date": dt.date(2020, 2, 3), "filing_date": dt.date(2021, 6, 27), "key_tasks_done": 9,
        "key_tasks_planned": 10, "satisfaction": D("0.9275"), "amt_a": D("100.01"), "amt_b": D("100"), "amt_c": D("200.01")}
SCENARIOS = {
    "good": GOOD,
    # the money edges of the 校验 tolerance, where binary floating point would disagree with Decimal
    "edge": {**GOOD, "amt_a": D("99.99"), "amt_b": D("100"), "amt_c": D("199.99")},
    "over": {**GOOD, "amt_a": D("100.011"), "amt_b": D("100"), "amt_c": D("200.02")},
    "blank": {**GOOD, "sangong_budget": None, "sangong_budget_prev": None, "satisfaction": None, "amt_a": None,
              "budget_published_date": None},
    "zero": {**GOOD, "sangong_budget_prev": D(0), "procurement_actual": D(0), "procurement_budget": D(0),
             "staff_quota": 0, "amt_b": D(0), "amt_c": D(0)},
    "dates": {**GOOD, "budget_published_date": dt.date(2020, 1, 2), "filing_date": dt.date(2021, 6, 20)},
}
RECALC_ON_LOAD = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def _workbook(path: Path, values: dict[str, object], formulas: list[str]) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    data, out = wb.add_worksheet("基础数据表"), wb.add_worksheet("out")
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    for row, (key, v) in enumerate(values.items()):
        if isinstance(v, dt.date):
            data.write_datetime(row, 1, dt.datetime.combine(v, dt.time()), day)
        elif v is not None:
            data.write_number(row, 1, float(v))
        wb.define_name(key, f"='基础数据表'!$B${row + 1}")
    for row, formula in enumerate(formulas):
        out.write_formula(row, 0, formula, None, "")
    wb.close()


@pytest.mark.slow
def test_libreoffice_computes_what_evaluate_computes(tmp_path):
    from python_calamine import CalamineWorkbook

    require_programs("soffice", install="libreoffice-calc-nogui")
    soffice = shutil.which("soffice")
    exprs = [parse(t) for t, _ in BUILT_IN.values()] + [parse(t) for t in EXTRA]
    conds = [parse_condition(t) for t in CONDITIONS]
    formulas = [to_excel(e, str, DEADLINE) for e in exprs] + [
        f'=IF({blank_test(k.fields(), str)},"",IF({condition_to_excel(k, str, MONEY)},1,0))' for k in conds]
    for name, values in SCENARIOS.items():
        _workbook(tmp_path / f"{name}.xlsx", values, formulas)
    profile = tmp_path / "profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(RECALC_ON_LOAD)  # recalculate what it opens
    subprocess.run([soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", "xlsx",
                    "--outdir", str(tmp_path / "out"), *(str(tmp_path / f"{n}.xlsx") for n in SCENARIOS)],
                   check=True, capture_output=True, timeout=180)
    compared = 0
    for name, values in SCENARIOS.items():
        got = [row[0] for row in CalamineWorkbook.from_path(str(tmp_path / "out" / f"{name}.xlsx"))
               .get_sheet_by_name("out").to_python()]
        for expr, formula, cell in zip(exprs, formulas, got, strict=False):
            res: Result = evaluate(expr, values, DEADLINE)
            if res.status == "ok":
                assert cell == pytest.approx(float(res.value), rel=1e-12, abs=1e-12), (name, formula, res)
            else:
                assert cell == "", (name, formula, res)  # blank, 0/0 and n/0 all show an empty cell
            compared += 1
        for cond, formula, cell in zip(conds, formulas[len(exprs):], got[len(exprs):], strict=True):
            verdict = evaluate_condition(cond, values, DEADLINE, MONEY)
            assert cell == ("" if verdict.holds is None else float(verdict.holds)), (name, formula, verdict)
            compared += 1
    assert compared == len(SCENARIOS) * len(formulas)
