"""The rubric as data (spec §4): the default rubric, its hash, and errors that name the line."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from perfxl.spec.rubric import RubricError, load_rubric, parse_rubric

DEFAULT_TEXT = resources.files("perfxl.spec.rubrics").joinpath("gd-dept-2020.toml").read_text("utf-8")

#: spec §4.1, copied by hand: code -> (一级, weight, rule kind)
SPEC_TABLE = {
    "A1": ("预算编制", 5, "manual"),
    "A2": ("预算编制", 5, "bands"),
    "A3": ("预算编制", 5, "linear"),
    "A4": ("预算编制", 5, "linear"),
    "B1": ("预算执行", 15, "linear"),
    "B2": ("预算执行", 5, "linear"),
    "B3": ("预算执行", 5, "linear"),
    "B4": ("预算执行", 5, "manual"),
    "B5": ("预算执行", 5, "linear"),
    "B6": ("预算执行", 5, "manual"),
    "C1": ("预算监督", 5, "days_within"),
    "C2": ("预算监督", 5, "manual"),
    "C3": ("预算监督", 5, "days_late"),
    "D1": ("预算使用效益", 10, "linear"),
    "D2": ("预算使用效益", 10, "manual"),
    "D3": ("预算使用效益", 5, "linear"),
}

#: spec §4.1 "−k per point above/below T": code -> (T, side, k)
SPEC_LINEAR = {
    "A3": (Decimal("1"), "above", Decimal("0.5")),
    "A4": (Decimal("0"), "above", Decimal("0.5")),
    "B1": (Decimal("0.95"), "below", Decimal("0.75")),
    "B2": (Decimal("1"), "above", Decimal("0.5")),
    "B3": (Decimal("0.95"), "below", Decimal("0.25")),
    "B5": (Decimal("0.95"), "below", Decimal("0.5")),
    "D1": (Decimal("1"), "below", Decimal("0.5")),
    "D3": (Decimal("0.90"), "below", Decimal("0.25")),
}


# -- the default rubric ----------------------------------------------------------------------


def test_default_rubric_loads_with_the_spec_table():
    rubric = load_rubric("gd-dept-2020")
    assert rubric.id == "gd-dept-2020"
    assert rubric.year == 2020
    assert [i.code for i in rubric.indicators] == list(SPEC_TABLE)
    for ind in rubric.indicators:
        level1, weight, kind = SPEC_TABLE[ind.code]
        assert (ind.level1, ind.weight, ind.rule["kind"]) == (level1, Decimal(weight), kind), ind.code
        assert ind.manual is (kind == "manual")
        assert ind.criteria  # the 评分标准 text printed in the template


def test_weights_sum_to_100_and_level1_weights():
    rubric = load_rubric("gd-dept-2020")
    assert rubric.total_weight == 100
    groups = {name: sum(i.weight for i in inds) for name, inds in rubric.level1_groups}
    assert groups == {"预算编制": 20, "预算执行": 40, "预算监督": 15, "预算使用效益": 25}
    assert list(groups) == ["预算编制", "预算执行", "预算监督", "预算使用效益"]  # the sample's outline


def test_linear_rules_match_the_spec():
    rubric = load_rubric("gd-dept-2020")
    for code, (target, side, per_point) in SPEC_LINEAR.items():
        rule = rubric.indicator(code).rule
        assert (Decimal(str(rule["target"])), rule["side"], Decimal(str(rule["per_point"]))) == (
            target, side, per_point), code


def test_band_and_day_rules_match_the_spec():
    rubric = load_rubric("gd-dept-2020")
    bands = [(Decimal(str(b)), Decimal(str(p))) for b, p in rubric.indicator("A2").rule["bands"]]
    # ≤5% → 5, ≤10% → 4, ≤20% → 3, ≤30% → 2, else 0
    assert bands == [(Decimal("0.05"), 5), (Decimal("0.10"), 4), (Decimal("0.20"), 3), (Decimal("0.30"), 2)]
    assert Decimal(str(rubric.indicator("A2").rule["otherwise"])) == 0
    assert rubric.indicator("C1").rule["days"] == 20
    assert Decimal(str(rubric.indicator("C3").rule["per_day"])) == 1


def test_deadline_is_june_20_of_the_following_year():
    rubric = load_rubric("gd-dept-2020")
    assert rubric.deadline(2020) == dt.date(2021, 6, 20)
    assert rubric.deadline(2023) == dt.date(2024, 6, 20)  # relative to the year


@pytest.mark.parametrize(("total", "grade"), [
    ("100", "优秀"), ("90", "优秀"), ("89.99", "良好"), ("80", "良好"), ("79.99", "中"),
    ("60", "中"), ("59.99", "差"), ("0", "差"),
])
def test_grade_bands_lower_bound_inclusive(total, grade):
    assert load_rubric("gd-dept-2020").grade(Decimal(total)) == grade


# -- the hash --------------------------------------------------------------------------------


def _replace_in_block(text: str, code: str, old: str, new: str) -> str:
    """Replace the first `old` after the line `code = "<code>"` (within that indicator)."""
    start = text.index(f'code = "{code}"')
    end = text.find("[[indicator]]", start)
    end = len(text) if end < 0 else end
    block = text[start:end]
    assert old in block, (code, old)
    return text[:start] + block.replace(old, new, 1) + text[end:]


def test_hash_is_stable():
    a = parse_rubric(DEFAULT_TEXT).hash
    assert a == parse_rubric(DEFAULT_TEXT).hash == load_rubric("gd-dept-2020").hash
    assert re.fullmatch(r"[0-9a-f]{64}", a)  # SHA-256, hex


def test_hash_ignores_comments_and_layout():
    text = "# a bureau's note\n\n" + DEFAULT_TEXT.replace("weight = 15", "weight    =    15   # 预算执行率")
    assert parse_rubric(text).hash == parse_rubric(DEFAULT_TEXT).hash


def test_hash_changes_when_a_weight_changes():
    # A3 5 -> 4 and B1 15 -> 16: still 100 in all
    text = _replace_in_block(DEFAULT_TEXT, "A3", "weight = 5", "weight = 4")
    text = _replace_in_block(text, "B1", "weight = 15", "weight = 16")
    changed = parse_rubric(text)
    assert changed.indicator("A3").weight == 4
    assert changed.hash != parse_rubric(DEFAULT_TEXT).hash


def test_hash_changes_when_a_rule_parameter_changes():
    text = _replace_in_block(DEFAULT_TEXT, "B1", "per_point = 0.75", "per_point = 0.5")
    assert parse_rubric(text).hash != parse_rubric(DEFAULT_TEXT).hash


def test_hash_ignores_descriptive_text():
    text = _replace_in_block(DEFAULT_TEXT, "B1", 'criteria = "预算执行率≥95%得满分',
                             'criteria = "执行率达到95%及以上得满分')
    text = _replace_in_block(text, "B1", 'name = "预算执行率"', 'name = "年度预算执行率"')
    changed = parse_rubric(text)
    assert changed.indicator("B1").criteria.startswith("执行率达到")
    assert changed.hash == parse_rubric(DEFAULT_TEXT).hash


# -- validation errors name the line ---------------------------------------------------------


def _line_numbers(text: str, needle: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), 1) if needle in line]


def _block(text: str, code_line: int) -> range:
    """The lines of the indicator table whose `code =` is on `code_line`: from its
    [[indicator]] header to the line before the next one."""
    lines = text.splitlines()
    headers = [n for n, line in enumerate(lines, 1) if line.strip() == "[[indicator]]"]
    start = max(h for h in headers if h < code_line)
    later = [h for h in headers if h > code_line]
    return range(start, later[0] if later else len(lines) + 1)


def _load_broken(tmp_path: Path, text: str) -> str:
    path = tmp_path / "broken.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(RubricError) as info:
        load_rubric(str(path))
    message = str(info.value)
    assert str(path) in message  # names the file
    return message


def _named_line(message: str) -> int:
    m = re.search(r"第 (\d+) 行", message)
    assert m, message
    return int(m.group(1))


def test_error_unknown_rule_kind_names_the_line(tmp_path):
    text = _replace_in_block(DEFAULT_TEXT, "A3", 'kind = "linear"', 'kind = "lineal"')
    message = _load_broken(tmp_path, text)
    (code_line,) = _line_numbers(text, 'code = "A3"')
    assert _named_line(message) in _block(text, code_line)  # within the A3 table
    assert "lineal" in message and "A3" in message


def test_error_unknown_field_key_names_the_line(tmp_path):
    text = _replace_in_block(DEFAULT_TEXT, "D1", '"key_tasks_done"', '"key_task_done"')
    message = _load_broken(tmp_path, text)
    (code_line,) = _line_numbers(text, 'code = "D1"')
    assert _named_line(message) in _block(text, code_line)
    assert "key_task_done" in message


def test_error_duplicate_code_names_the_second_definition(tmp_path):
    text = _replace_in_block(DEFAULT_TEXT, "A4", 'code = "A4"', 'code = "A3"')
    message = _load_broken(tmp_path, text)
    first, second = _line_numbers(text, 'code = "A3"')
    # the duplicate is the later one: the earlier A3 is fine on its own
    assert _named_line(message) in _block(text, second)
    assert "A3" in message and "重复" in message
    assert first < second


def test_error_linear_without_per_point_names_the_line(tmp_path):
    text = _replace_in_block(DEFAULT_TEXT, "B5", ", per_point = 0.5", "")
    message = _load_broken(tmp_path, text)
    (code_line,) = _line_numbers(text, 'code = "B5"')
    assert _named_line(message) in _block(text, code_line)
    assert "per_point" in message and "B5" in message


def test_error_weights_not_adding_to_100(tmp_path):
    # A3 5 -> 6: 101 in all. No single line is wrong, so the message gives the sum.
    text = _replace_in_block(DEFAULT_TEXT, "A3", "weight = 5", "weight = 6")
    message = _load_broken(tmp_path, text)
    assert "101" in message and "100" in message


def test_error_bad_toml_names_the_line(tmp_path):
    lines = DEFAULT_TEXT.splitlines()
    (n,) = _line_numbers(DEFAULT_TEXT, 'name = "预算执行率"')
    lines[n - 1] = 'name = "预算执行率'  # unterminated string
    message = _load_broken(tmp_path, "\n".join(lines) + "\n")
    assert re.search(rf"(line {n}\b|第 {n} 行)", message), message


# -- selecting a rubric ----------------------------------------------------------------------


def test_load_by_id_and_by_path(tmp_path):
    assert load_rubric("gd-dept-2020").source.endswith("gd-dept-2020.toml")
    text = DEFAULT_TEXT.replace('id = "gd-dept-2020"', 'id = "zj-dept-2021"').replace("year = 2020", "year = 2021")
    text = _replace_in_block(text, "A3", "weight = 5", "weight = 4")
    text = _replace_in_block(text, "B1", "weight = 15", "weight = 16")
    path = tmp_path / "湛江 指标体系.toml"  # a bureau's own file, with a Chinese name and a space
    path.write_text(text, "utf-8")
    own = load_rubric(str(path))
    assert own.id == "zj-dept-2021"
    assert own.year == 2021
    assert own.deadline(own.year) == dt.date(2022, 6, 20)
    assert own.indicator("B1").weight == 16
    assert own.total_weight == 100


def test_unknown_id_says_what_exists():
    with pytest.raises(RubricError) as info:
        load_rubric("gd-dept-2099")
    message = str(info.value)
    assert "gd-dept-2099" in message
    assert "gd-dept-2020" in message  # the built-in ids, as a hint


@pytest.mark.parametrize(("old", "new", "words"), [
    ('weight = 5\ncriteria = "目标与职能', 'weight = "abc"\ncriteria = "目标与职能', "不是数字"),
    ('rule = { kind = "linear", target = 1.00, side = "above", per_point = 0.5 }\nblank = "error"',
     'rule = { kind = "days_within", days = 20 }\nblank = "error"', "不能用于公式"),
    ("per_point = 0.75 }", 'per_point = "很多" }', "规则参数有误"),
])
def test_malformed_rules_are_refused_at_load_not_at_scoring(tmp_path, old, new, words):
    """A rubric that would fail while scoring (KeyError, a non-number) is refused when loaded."""
    from perfxl.spec.rubric import load_rubric as load

    text = (Path(__file__).resolve().parent.parent / "perfxl" / "spec" / "rubrics" / "gd-dept-2020.toml").read_text("utf-8")
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RubricError) as err:
        load(str(path))
    assert words in str(err.value) and "第 " in str(err.value)


def test_bands_without_otherwise_score_zero_past_the_last_band(tmp_path):
    from perfxl.spec.rubric import load_rubric as load

    text = (Path(__file__).resolve().parent.parent / "perfxl" / "spec" / "rubrics" / "gd-dept-2020.toml").read_text("utf-8")
    path = tmp_path / "no-otherwise.toml"
    path.write_text(text.replace(", otherwise = 0 }", " }"), encoding="utf-8")
    assert "otherwise" not in load(str(path)).indicator("A2").rule


# -- the notice (spec §12: 通知文号, 通知名称) --------------------------------------------------

NOTICE_BLOCK = '''[notice]
number = "湛财绩〔2021〕5号"
title = "湛江市财政局关于开展2021年市级财政资金绩效自评工作的通知"
'''


def test_default_rubric_names_the_rounds_notice():
    notice = load_rubric("gd-dept-2020").notice
    assert (notice.number, notice.title) == ("湛财绩〔2021〕5号", "湛江市财政局关于开展2021年市级财政资金绩效自评工作的通知")


def test_hash_is_the_published_one_and_ignores_the_notice():
    """The notice is descriptive: templates already sent out keep matching (_meta rubric_hash)."""
    pinned = "32177e674f9348518b0c275f236051449237af5f868aa7f5ce4f7d8ac05646c2"
    assert NOTICE_BLOCK in DEFAULT_TEXT
    without = parse_rubric(DEFAULT_TEXT.replace(NOTICE_BLOCK, ""))
    other = parse_rubric(DEFAULT_TEXT.replace("湛财绩〔2021〕5号", "粤财绩〔2021〕9号"))
    assert without.notice is None
    assert other.notice.number == "粤财绩〔2021〕9号"
    assert load_rubric("gd-dept-2020").hash == without.hash == other.hash == pinned


@pytest.mark.parametrize(("block", "expected"), [
    ('[notice]\nnumber = "湛财绩〔2021〕5号"\n', ("湛财绩〔2021〕5号", "")),
    ('[notice]\ntitle = "《关于开展绩效自评的通知》"\n', ("", "关于开展绩效自评的通知")),  # 《》 once, by the report
    ('[notice]\nnumber = "  "\ntitle = ""\n', None),  # empty: as if absent
])
def test_notice_may_give_either_part(block, expected):
    notice = parse_rubric(DEFAULT_TEXT.replace(NOTICE_BLOCK, block)).notice
    assert (notice and (notice.number, notice.title)) == expected


@pytest.mark.parametrize(("block", "words"), [
    ('[notice]\nnumber = "湛财绩〔2021〕5号"\ndate = 2021-05-10\n', "date 不认识"),
    ("[notice]\nnumber = 5\n", "number（通知文号）应为文字"),
    ('notice = "湛财绩〔2021〕5号"\n', "应写成 [notice] 表"),
])
def test_bad_notice_is_refused_naming_the_line(tmp_path, block, words):
    text = DEFAULT_TEXT.replace(NOTICE_BLOCK, "")
    at = text.index("[[indicator]]")
    text = text[:at] + block + "\n" + text[at:]
    message = _load_broken(tmp_path, text)
    (line,) = [n for n, ln in enumerate(text.splitlines(), 1) if ln.startswith(("[notice]", "notice ="))]
    assert words in message and _named_line(message) == line, message
