"""Fields per form (issue 12): the rubric carries its form's field list, and every stage reads it."""

from __future__ import annotations

import dataclasses

from perfxl.model import Options
from perfxl.spec.fields import Field, Section, fields, sections
from perfxl.spec.form import builtin_form
from perfxl.spec.rubric import load_rubric
from perfxl.write.fill import fill_workbook
from perfxl.write.template import build_template


def test_the_builtin_rubric_has_the_global_fields_and_the_same_hash():
    rubric = load_rubric("gd-dept-2020")
    assert rubric.sections == sections() and rubric.fields == fields()
    assert builtin_form("gd-dept-2020").sections == rubric.sections
    other = dataclasses.replace(rubric, sections=(Section("基本信息", (Field("unit_code", "单位编码", "code"),)),))
    assert other.hash == rubric.hash  # the fields are descriptive: not part of the hash
    assert list(other.fields) == ["unit_code"]


def test_a_form_with_a_field_of_its_own_is_templated_read_and_kept(tmp_path):
    """A field the global list lacks is a defined name in the template, is read back and lands in the result."""
    from perfxl.run.pipeline import candidates_for, run_candidates

    base = load_rubric("gd-dept-2020")
    extra = Field("grants_received", "上级补助收入", "money", unit="万元", section="收支情况")
    secs = tuple(Section(s.title, (*s.fields, extra)) if s.title == base.sections[1].title else s
                 for s in base.sections)
    rubric = dataclasses.replace(base, sections=secs)
    assert "grants_received" in rubric.fields and "grants_received" not in fields()
    path = tmp_path / "t.xlsx"
    build_template(path, rubric, 2020)
    fill_workbook(path, {"unit_code": "T001", "unit_name": "测试局", "grants_received": 12.5}, path)
    batch = run_candidates(candidates_for([path]), Options.for_rubric(rubric), jobs=1)
    (result,) = batch.files
    assert str(result.fields["grants_received"]) == "12.5"
    assert result.cells["grants_received"][0] == "基础数据表"


def test_a_form_changed_only_in_its_fields_reads_the_files_again(tmp_path):
    """The fields are not in the rubric's hash, but a re-run under a form with another field list
    must not take the last run's cached results (a field added, a label renamed)."""
    from perfxl.read.intake import discover
    from perfxl.run.job import run_job
    from perfxl.run.state import options_fingerprint

    base = load_rubric("gd-dept-2020")
    extra = Field("grants_received", "上级补助收入", "money", unit="万元", section=base.sections[2].title)
    wider = dataclasses.replace(base, sections=tuple(
        Section(s.title, (*s.fields, extra)) if s.title == extra.section else s for s in base.sections))
    renamed = dataclasses.replace(base, sections=tuple(
        Section(s.title, tuple(dataclasses.replace(f, label="在职人数合计") if f.key == "staff_actual" else f
                               for f in s.fields)) for s in base.sections))
    prints = {options_fingerprint(Options.for_rubric(r)) for r in (base, wider, renamed)}
    assert len(prints) == 3
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    build_template(tmp_path / "t.xlsx", wider, 2020)
    fill_workbook(tmp_path / "t.xlsx", {"unit_code": "T001", "unit_name": "测试局", "grants_received": 12.5},
                  inbox / "a.xlsx")
    first = run_job(discover(inbox), Options.for_rubric(base), inbox, out, jobs=1)
    assert "grants_received" not in first.files[0].fields
    again = run_job(discover(inbox), Options.for_rubric(wider), inbox, out, jobs=1)
    assert str(again.files[0].fields["grants_received"]) == "12.5"


def test_the_guide_says_only_what_the_form_has():
    """填报说明 of a form without the built-in's balance fields, 不适用 rows or day rule: no line about them."""
    from perfxl.spec.rubric import Grade, Indicator, Rubric
    from perfxl.write.template import guide_lines

    secs = (Section("基本信息", (Field("unit_code", "单位编码", "code"), Field("unit_name", "单位名称", "text"),
                                 Field("eval_year", "评价年度", "year"), Field("filing_date", "填报日期", "date"),
                                 Field("spent", "执行数", "money"), Field("plan", "预算数", "money"))),)
    rubric = Rubric(id="x-2020", name="某表", year=2020, deadline_rule={"year_offset": 1, "month": 5, "day": 31},
                    grades=(Grade(0, "合格"),), source="x", sections=secs, indicators=(
                        Indicator("G1", "执行", "执行", "执行率", 100, "", {"kind": "proportional", "target": 1},
                                  {"kind": "ratio", "numerator": ["spent"], "denominator": ["plan"]}),))
    texts = [t for t, _ in guide_lines(rubric, 2020)]
    assert texts[2] == "报送截止日期：2021年5月31日。"
    assert [t[:2] for t in texts[3:]] == ["一、", "二、", "三、"]
    assert not any("结转" in t or "三公" in t or "Alt+Enter" in t for t in texts)
    builtin = [t for t, _ in guide_lines(load_rubric("gd-dept-2020"), 2020)]
    assert len(builtin) == 9 and "“自评材料报送及时性”指标每逾期 1 天扣 1 分" in builtin[2]
