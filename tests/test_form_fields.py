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
