"""results.json: schema and key order of spec §8, explicit nulls, rounding, determinism."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import RUBRIC
from test_summary import EXPECTED_FILES, HYPERLINK, build_batch

from perfxl.findings import Finding
from perfxl.model import FileResult, IndicatorResult
from perfxl.run.pipeline import BatchResult
from perfxl.write.results import indicator_value, json_fields, json_value, to_json, write_results

#: spec §8's keys, then §12's `form` (a department file has no `projects`: spec §13)
FILE_KEYS = ["file", "status", "unit_code", "unit_name", "fields", "indicators", "self_total",
             "reviewed_total", "self_grade", "reviewed_grade", "findings", "form"]
INDICATOR_KEYS = ["code", "value", "self_score", "reviewed_score", "applicable", "reason"]
FINDING_KEYS = ["code", "severity", "sheet", "cell", "cells", "message"]


@pytest.fixture(scope="module")
def batch(template_path: Path, tmp_path_factory: pytest.TempPathFactory) -> BatchResult:
    return build_batch(tmp_path_factory.mktemp("returns"), template_path)


@pytest.fixture(scope="module")
def doc(batch: BatchResult) -> dict:
    return json.loads(to_json(batch))


def by_file(doc: dict, name: str) -> dict:
    (entry,) = [f for f in doc["files"] if f["file"] == name]
    return entry


def indicator(entry: dict, code: str) -> dict:
    (ind,) = [i for i in entry["indicators"] if i["code"] == code]
    return ind


def test_top_level_keys_in_schema_order(doc):
    assert list(doc) == ["rubric", "year", "deadline", "files", "not_submitted", "findings"]
    assert (doc["rubric"], doc["year"], doc["deadline"]) == ("gd-dept-2020", 2020, "2021-06-20")
    assert doc["not_submitted"] == [] and doc["findings"] == []


def test_files_keep_batch_order(doc, batch):
    assert [f["file"] for f in doc["files"]] == [r.file for r in batch.files] == EXPECTED_FILES
    assert [f["status"] for f in doc["files"]] == [
        "reviewed", "duplicate", "error", "reviewed", "error", "unreadable", "ignored"]


def test_file_entry_schema(doc):
    for entry in doc["files"]:
        assert list(entry)[:12] == FILE_KEYS
        assert entry["form"] == "gd-dept-2020" and "projects" not in entry
        for ind in entry["indicators"]:
            assert list(ind)[:6] == INDICATOR_KEYS
        for f in entry["findings"]:
            assert list(f) == FINDING_KEYS
            assert f["severity"] in ("error", "warning", "info")
            assert f["cell"] == (f["cells"][0] if f["cells"] else None)
    good = by_file(doc, "a/good.xlsx")
    assert [i["code"] for i in good["indicators"]] == [i.code for i in RUBRIC.indicators]
    assert good["unit_code"] == "T001" and good["self_grade"] == good["reviewed_grade"] == "优秀"
    assert good["findings"][0]["code"] == "duplicate-submission"
    assert good["department"] == "测试市测试局" and good["rescaled"] is False
    assert (good["errors"], good["warnings"]) == (0, 1)


def test_explicit_nulls(doc, batch):
    text = to_json(batch)
    empty = by_file(doc, "empty.xlsx")
    assert empty["unit_code"] is None and empty["unit_name"] is None
    assert empty["fields"] == {} and empty["indicators"] == []
    assert empty["reviewed_total"] is None and empty["self_grade"] is None
    (unreadable,) = empty["findings"]
    assert unreadable["code"] == "file-unreadable" and unreadable["cell"] is None
    assert '"unit_code": null' in text and '"reviewed_total": null' in text
    over = by_file(doc, "over.xlsx")
    assert over["reviewed_total"] is None and over["reviewed_grade"] is None
    a1 = indicator(over, "A1")
    assert (a1["value"], a1["reviewed_score"], a1["applicable"]) == (None, None, None)
    assert a1["reason"] == "input-error"
    inject = by_file(doc, "inject.xlsx")
    a4 = indicator(inject, "A4")
    assert (a4["value"], a4["self_score"], a4["reviewed_score"]) == (None, None, None)
    assert (a4["applicable"], a4["reason"]) == (False, "blank")
    assert inject["rescaled"] is True and inject["reviewed_total"] == 100


def test_values_scores_and_fields(doc, batch):
    good = by_file(doc, "a/good.xlsx")
    # 2970.12 / (2.89 + 2999.76) = 0.98916623…, 6 decimals
    assert indicator(good, "B1")["value"] == 0.989166
    assert indicator(good, "A3")["value"] == 0.9  # 63 / 70
    assert indicator(good, "C1")["value"] == 20 and isinstance(indicator(good, "C1")["value"], int)
    assert indicator(good, "C3")["value"] == 0
    assert indicator(good, "A1")["value"] is None  # manual
    b1 = indicator(good, "B1")
    assert b1["self_score"] == 15 and b1["reviewed_score"] == 15
    assert good["self_total"] == 100 and good["reviewed_total"] == 100
    fields = good["fields"]
    assert fields["income_total"] == 2999.76 and fields["expense_basic"] == 2100
    assert fields["filing_date"] == "2021-06-04" and fields["staff_quota_inst"] is None
    assert fields["satisfaction"] == 0.965
    assert list(fields)[:3] == ["unit_name", "unit_code", "department"]
    text = to_json(batch)
    assert '"income_total": 2999.76,' in text and '"value": 0.989166,' in text
    assert '"self_total": 100,' in text and '"expense_basic": 2100,' in text
    assert by_file(doc, "inject.xlsx")["unit_name"] == HYPERLINK


def test_rate_rounding_is_half_up_to_six_places():
    b1 = IndicatorResult("B1", value=Decimal("0.1234565"))
    assert indicator_value(RUBRIC, b1) == 0.123457  # half-even would give 0.123456
    assert indicator_value(RUBRIC, IndicatorResult("B1", value=Decimal("0.99999951"))) == 1
    assert indicator_value(RUBRIC, IndicatorResult("C3", value=3)) == 3
    assert indicator_value(RUBRIC, IndicatorResult("A1", manual=True)) is None


def test_json_value():
    assert json_value(Decimal("4.73")) == 4.73 and json.dumps(json_value(Decimal("4.73"))) == "4.73"
    assert json_value(Decimal("100.00")) == 100 and isinstance(json_value(Decimal("100.00")), int)
    assert json.dumps(json_value(Decimal("2999.76"))) == "2999.76"
    assert json_value(dt.date(2021, 6, 4)) == "2021-06-04"
    assert json_value(dt.datetime(2021, 6, 4, 9, 30)) == "2021-06-04 09:30:00"
    assert json_value([Decimal("1.5"), None, True]) == [1.5, None, True]
    result = FileResult("x.xlsx", fields={"zzz": Decimal("1.0"), "income_total": Decimal("2.50"),
                                          "unit_name": "甲"})
    assert list(json_fields(result).items()) == [("unit_name", "甲"), ("income_total", 2.5),
                                                 ("zzz", 1)]


def test_batch_findings_and_not_submitted(batch):
    gone = {"department": "某部门", "unit_name": "未报送局", "unit_code": "T009"}
    finding = Finding("not-submitted", "单位 T009（未报送局）未报送自评材料", unit_code="T009")
    doc = json.loads(to_json(dataclasses.replace(batch, not_submitted=[gone], findings=[finding])))
    assert doc["not_submitted"] == [
        {"unit_code": "T009", "unit_name": "未报送局", "department": "某部门"}]
    assert list(doc["not_submitted"][0]) == ["unit_code", "unit_name", "department"]
    (f,) = doc["findings"]
    assert list(f) == ["code", "severity", "file", "unit_code", "sheet", "cell", "cells", "message"]
    assert (f["code"], f["severity"], f["file"], f["unit_code"]) == (
        "not-submitted", "warning", None, "T009")


def test_deterministic_and_free_of_local_paths(batch, tmp_path):
    one = write_results(batch, tmp_path / "one").read_bytes()
    two = write_results(batch, tmp_path / "two").read_bytes()
    assert one == two and one.decode("utf-8") == to_json(batch)
    text = one.decode("utf-8")
    assert "测试市测试局" in text and "\\u" not in text  # ensure_ascii=False
    assert text.startswith('{\n  "rubric": "gd-dept-2020",\n  "year": 2020,')
    assert str(tmp_path) not in text and "/tmp" not in text and "pytest" not in text
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["results.json"]


def test_assembled_text_equals_one_json_dumps(tmp_path, make_return):
    """to_json builds the text entry by entry (to reuse unchanged entries); it must be exactly
    what json.dumps(indent=2) gives for the whole document, also for an empty batch."""
    import json as _json

    from perfxl.model import Options
    from perfxl.run.pipeline import run_batch
    from perfxl.write.results import to_dict, to_json

    make_return("in/a.xlsx", unit_code="A1")
    make_return("in/b.xlsx", unit_code="B1", unit_name='名称含"引号"和\\反斜杠')
    batch = run_batch(tmp_path / "in", Options.for_rubric(RUBRIC), jobs=1)
    assert to_json(batch) == _json.dumps(to_dict(batch), ensure_ascii=False, indent=2) + "\n"
    batch.files = []
    assert to_json(batch) == _json.dumps(to_dict(batch), ensure_ascii=False, indent=2) + "\n"
