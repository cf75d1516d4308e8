"""The per-unit Markdown report: outline, generated sentences, escaping, file names."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import RUBRIC
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from perfxl.model import Adjustment, BatchResult, FileResult, Options
from perfxl.resources import templates_dir
from perfxl.spec.rubric import Notice
from perfxl.write.naming import safe_name
from perfxl.write.report import environment, md, paras, render_report, write_reports

OPTIONS = Options.for_rubric(RUBRIC)
PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])

OUTLINE = [
    "一、单位基本情况",
    "（一）机构设置及职能",
    "（二）年度总体工作和重点工作任务",
    "（三）部门整体支出绩效目标",
    "（四）部门整体支出情况",
    "二、自评工作开展情况",
    "三、绩效自评情况",
    "（一）自评结果",
    "（二）部门整体支出绩效指标分析",
    "1. 预算编制情况。",
    "2. 预算执行情况。",
    "3. 预算监督情况。",
    "4. 预算使用效益。",
    "（三）存在问题",
    "（四）改进措施",
    "四、其他自评情况",
    "附件一 指标得分表",
    "附件二 审核发现",
]


def report_of(make_return, evaluate, **changes) -> tuple[FileResult, str]:
    result = evaluate(make_return(**changes))
    return result, render_report(result, OPTIONS)


def walk(tokens):
    for tok in tokens:
        yield tok
        yield from walk(tok.children or [])


def plain(inline) -> str:
    return "".join(c.content for c in inline.children)


def headings(text: str) -> list[str]:
    toks = PARSER.parse(text)
    return [plain(toks[i + 1]) for i, t in enumerate(toks) if t.type == "heading_open"]


def table_rows(text: str) -> list[int]:
    """The number of body rows of each table, in order."""
    counts, current = [], None
    for tok in PARSER.parse(text):
        if tok.type == "tbody_open":
            current = 0
        elif tok.type == "tr_open" and current is not None:
            current += 1
        elif tok.type == "tbody_close":
            counts.append(current)
            current = None
    return counts


def paragraph_texts(text: str) -> list[str]:
    toks = PARSER.parse(text)
    return [plain(toks[i + 1]) for i, t in enumerate(toks) if t.type == "paragraph_open"]


# -- the good return ---------------------------------------------------------------------


def test_outline_follows_the_sample(make_return, evaluate):
    _, text = report_of(make_return, evaluate)
    assert headings(text) == ["测试市测试局2020年度部门整体支出绩效自评报告", *OUTLINE]
    assert "评价年度：2020年度" in text
    assert "填报日期：2021年6月4日" in text


def test_basic_figures_and_spending_sentence(make_return, evaluate):
    _, text = report_of(make_return, evaluate)
    assert ("截至2020年12月31日，测试市测试局总编制70名，其中：行政编制61名，工勤编制9名。"
            "2020年末在职人数63人，离退休人数19人。") in text
    assert ("2020年度，本单位本年收入合计2999.76万元，其中财政拨款收入2999.76万元；"
            "年初结转和结余2.89万元；本年支出合计2970.12万元，其中基本支出2100.00万元、"
            "项目支出870.12万元；年末结转和结余32.53万元。预算执行率为98.92%。") in text


def test_only_filled_figures_are_mentioned(make_return, evaluate):
    _, text = report_of(make_return, evaluate, staff_quota_admin=None, staff_quota_service=None,
                        retirees=None, expense_basic=None, eval_team_size=None)
    assert "总编制70名。2020年末在职人数63人。" in text
    assert "其中：" not in text
    assert "本年支出合计2970.12万元，其中项目支出870.12万元；" in text
    assert "自评工作小组" not in text.replace("成立自评工作小组。", "")


def test_staffing_figures_the_unit_already_wrote_are_not_repeated(make_return, evaluate):
    _, text = report_of(make_return, evaluate,
                        text_functions="本局总编制 70 名，在职人数63人，离退休人数19人。\n负责测试。")
    assert "截至2020年12月31日" not in text
    assert "### （一）机构设置及职能\n\n本局总编制 70 名，在职人数63人，离退休人数19人。\n\n负责测试。\n" in text
    _, text = report_of(make_return, evaluate, text_functions="本局总编制72名，在职人数63人。")
    assert "截至2020年12月31日，测试市测试局总编制70名" in text


def test_team_and_filing_on_time(make_return, evaluate):
    _, text = report_of(make_return, evaluate)
    assert ("本单位成立自评工作小组共13人，于2021年6月4日报送自评材料，"
            "在规定时间（2021年6月20日）内完成报送。") in text


def test_late_filing(make_return, evaluate):
    _, text = report_of(make_return, evaluate, filing_date=dt.date(2021, 6, 25))
    assert "于2021年6月25日报送自评材料，逾期5天（规定时间为2021年6月20日）。" in text
    assert "自评材料于2021年6月25日报送，逾期5天，得0.00分" in text


def test_results_and_indicator_sentences(make_return, evaluate):
    _, text = report_of(make_return, evaluate)
    assert "单位自评总分为100.00分，自评等级为优秀。" in text
    assert "按评分规则复核，核定总分为100.00分，核定等级为优秀。" in text
    assert ("绩效目标设置自评得5.00分；财政拨款收入预决算差异率为0.00%，得5.00分；"
            "在职人员控制率为90.00%，得5.00分；") in text
    # the group's 自评说明 in code order, then for 预算使用效益 the text_effects
    d = text.index("#### 4. 预算使用效益。")
    order = [text.index(s, d) for s in ("重点工作完成率达到要求", "服务对象满意度达到要求", "测试成效明显。")]
    assert order == sorted(order)
    assert "### （三）存在问题\n\n无。\n" in text
    assert "## 附件二 审核发现\n\n无。\n" in text


def test_day_counts_read_as_a_unit_writes_them(make_return, evaluate):
    _, text = report_of(make_return, evaluate)
    assert ("部门预算批复后第20天公开，得5.00分；自评工作质量自评得5.00分；"
            "自评材料于2021年6月4日报送，在规定时间内，得5.00分。") in text
    assert "及时性为" not in text  # no "预算公开及时性为20天", no "…为按时报送"
    assert "| C1 | 预算监督 | 信息公开 | 预算公开及时性 | 5 | 20天 |" in text  # the table keeps the value


@pytest.mark.parametrize(("published", "sentence"), [
    (dt.date(2020, 2, 18), "部门预算批复当天公开，得5.00分；"),
    (dt.date(2020, 3, 15), "部门预算批复后第26天公开，超过规定的20天，得0.00分；"),
    (None, "部门预算公开日期未填写，视为未公开，得0.00分；"),
])
def test_budget_publication_sentence(make_return, evaluate, published, sentence):
    _, text = report_of(make_return, evaluate, budget_published_date=published)
    assert sentence in text


def test_report_cites_the_rounds_notice(make_return, evaluate):
    _, text = report_of(make_return, evaluate)
    assert ("根据《湛江市财政局关于开展2021年市级财政资金绩效自评工作的通知》（湛财绩〔2021〕5号）要求，"
            "测试市测试局对2020年度部门整体支出绩效开展了自评，现将自评情况报告如下：") in paragraph_texts(text)


@pytest.mark.parametrize(("notice", "opening"), [
    (None, "根据部门整体支出绩效自评工作的要求，测试市测试局对"),
    (Notice(number="湛财绩〔2021〕5号"), "根据湛财绩〔2021〕5号文件要求，测试市测试局对"),
    (Notice(title="关于开展绩效自评的通知"), "根据《关于开展绩效自评的通知》要求，测试市测试局对"),
])
def test_a_rubric_without_a_full_notice_still_opens_well(make_return, evaluate, notice, opening):
    result = evaluate(make_return())
    text = render_report(result, Options.for_rubric(dataclasses.replace(RUBRIC, notice=notice)))
    first = next(t for t in paragraph_texts(text) if t.startswith("根据"))
    assert first.startswith(opening)
    assert ("湛财绩" in text) == bool(notice and notice.number)  # nothing cited that the rubric lacks


def test_report_ends_with_the_lines_the_unit_stamps(make_return, evaluate):
    _, text = report_of(make_return, evaluate)
    body = text[: text.index("## 附件一")]
    assert body.endswith("## 四、其他自评情况\n\n无。\n\n单位（公章）：测试市测试局\n\n填报日期：2021年6月4日\n\n")
    assert "填报日期" not in body[: body.index("单位（公章）")]  # said once, where it is signed


def test_a_departments_own_accounts_bear_the_departments_seal(make_return, evaluate):
    _, text = report_of(make_return, evaluate, unit_name="测试市测试局本级", department="测试市测试局")
    assert "评价单位：测试市测试局本级" in text
    assert "单位（公章）：测试市测试局\n" in text
    _, text = report_of(make_return, evaluate, unit_name="测试市测试中心", department="测试市测试局")
    assert "单位（公章）：测试市测试中心\n" in text


def test_a_blank_filing_date_leaves_the_line_to_fill_in(make_return, evaluate):
    result, text = report_of(make_return, evaluate, filing_date=None)
    assert "missing-value" in [f.code for f in result.findings]
    assert "填报日期：　　年　　月　　日\n" in text


def test_indicator_table(make_return, evaluate):
    _, text = report_of(make_return, evaluate)
    assert table_rows(text) == [len(RUBRIC.indicators) + 1]
    assert "| A3 | 预算编制 | 预算配置 | 在职人员控制率 | 5 | 90.00% |" in text
    assert "| A1 | 预算编制 | 目标设定 | 绩效目标设置 | 5 | — |" in text
    assert re.search(r"\| A1 \|.*\| 5\.00 \| 5\.00 \| 单位自评 \|", text)
    assert "| 合计 |  |  |  | 100 |  |  | 100.00 | 100.00 |  |" in text


def test_report_is_deterministic(make_return, evaluate):
    result, text = report_of(make_return, evaluate)
    assert render_report(result, OPTIONS) == text
    assert text.endswith(("。\n", "|\n"))
    assert "\n\n\n" not in text


# -- 不适用, 无法计算, errors ----------------------------------------------------------------


def test_not_applicable_is_shown_and_total_rescaled(make_return, evaluate):
    result, text = report_of(make_return, evaluate, sangong_budget_prev=None, sangong_budget=None,
                             sangong_actual=None)
    assert result.rescaled
    assert "“三公”经费变动率不适用。" in text
    assert "“三公”经费控制率不适用；" in text
    assert "“三公”经费变动率、“三公”经费控制率不适用，已剔除不适用指标并折算为百分制。" in text
    assert re.search(r"\| A4 \|.*\| — \|.*\| — \| 不适用 \|", text)
    assert "已折算为百分制 |" in text


def test_cannot_compute_shows_a_dash(make_return, evaluate):
    result, text = report_of(make_return, evaluate, staff_actual="六十三")
    assert result.reviewed_total is None
    assert "核定总分：—（存在无法计算的指标，待单位更正后重新核定）。" in text
    assert "在职人员控制率无法计算；" in text
    assert re.search(r"\| A3 \|.*\| — \|.*\| 5\.00 \| — \| 无法计算 \|", text)
    assert "| 合计 |  |  |  | 100 |  |  | 100.00 | — |  |" in text
    assert text.count("审核发现错误") == 1
    assert table_rows(text) == [len(RUBRIC.indicators) + 1, len(result.findings)]
    assert "| 错误 | 填写格式错误 | type-error | 基础数据表!B18 |" in text


def test_errors_with_a_total_are_marked_for_review(make_return, evaluate):
    result, text = report_of(make_return, evaluate, carryover_end=Decimal("42.53"))
    assert result.status == "error" and result.reviewed_total is not None
    assert "核定总分为100.00分，核定等级为优秀（存在错误，待单位更正后重新核定）。" in text
    assert "| 错误 | 收支不平衡 | balance-mismatch | 基础数据表!B29 |" in text


def test_bureau_adjustment_is_marked(make_return, evaluate):
    adjust = {"T001": {"A1": Adjustment(Decimal("3"), "目标不够细化")}}
    result = evaluate(make_return(), adjustments=adjust)
    text = render_report(result, Options.for_rubric(RUBRIC, adjustments=adjust))
    assert "绩效目标设置经财政核定得3.00分；" in text
    assert re.search(r"\| A1 \|.*\| 5\.00 \| 3\.00 \| 财政核定 \|", text)
    assert re.search(r"\| A2 \|.*\| 5\.00 \| 5\.00 \|  \|", text)
    assert "核定总分为98.00分" in text


def test_score_differences_are_listed(make_return, evaluate):
    _, text = report_of(make_return, evaluate, key_tasks_done=5)
    assert "自评得分与核定得分不一致的指标：重点工作完成率（D1，自评10.00分，核定1.67分）。" in text


def test_blank_template_renders(make_return, evaluate):
    """Nothing filled in: every section still renders, nothing crashes."""
    result, text = report_of(make_return, evaluate, base=None)
    assert result.status == "error"
    assert headings(text)[1:] == OUTLINE
    assert text.startswith("# （单位名称未填写）2020年度部门整体支出绩效自评报告\n")
    assert "单位未填写有效的自评总分。" in text
    assert table_rows(text) == [len(RUBRIC.indicators) + 1, len(result.findings)]


# -- hostile unit text -----------------------------------------------------------------------

HOSTILE_PROBLEMS = "<script>alert(1)</script>\n| a | b |\n[link](http://x) ![i](http://y)\n- 列表\n1. 编号"


def test_hostile_text_stays_text(make_return, evaluate):
    result, text = report_of(
        make_return, evaluate, unit_name="# 标题", text_problems=HOSTILE_PROBLEMS,
        note_A1="**粗体**", department="<img src=x onerror=alert(1)>",
        text_functions="---\n===\n> 引用\n```\n    缩进", procurement_budget="| x | y |\n<b>z</b>",
    )
    tokens = list(walk(PARSER.parse(text)))
    kinds = {t.type for t in tokens}
    assert not kinds & {"html_inline", "html_block", "link_open", "image", "bullet_list_open",
                        "ordered_list_open", "code_block", "fence", "hr", "strong_open", "em_open",
                        "s_open"}
    assert [t.type for t in tokens].count("blockquote_open") == 1  # our own banner: errors found
    assert headings(text) == ["# 标题2020年度部门整体支出绩效自评报告", *OUTLINE]
    finding = next(f for f in result.findings if f.code == "type-error")
    assert "| x | y |" in finding.message
    assert table_rows(text) == [len(RUBRIC.indicators) + 1, len(result.findings)]
    texts = paragraph_texts(text)
    for line in HOSTILE_PROBLEMS.split("\n"):
        assert line in texts
    assert "**粗体**" in texts
    assert "主管部门：<img src=x onerror=alert(1)>" in texts
    for line in ("---", "===", "> 引用", "```", "缩进"):
        assert line in texts


def test_hostile_names_give_a_safe_report_file(make_return, evaluate, tmp_path):
    result = evaluate(make_return(unit_name="../../CON", unit_code="T001"))
    written = write_reports(BatchResult(RUBRIC, 2020, OPTIONS.deadline, [result]), tmp_path)
    assert [p.name for p in written] == ["T001__._CON.md"]
    assert written[0].resolve().parent == (tmp_path / "reports").resolve()


# -- the md filter -------------------------------------------------------------------------

_DROPPED = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")


def _expected(s: str) -> str:
    kept = "".join(" " if ch.isspace() else ch for ch in s
                   if ch.isspace() or (unicodedata.category(ch) != "Cc" and ch not in _DROPPED))
    return " ".join(unicodedata.normalize("NFC", kept).split())


@given(st.text())
def test_md_is_one_inert_paragraph(s):
    tokens = PARSER.parse("text: " + md(s))
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"]
    children = tokens[1].children
    assert {c.type for c in children} <= {"text"}
    assert " ".join("".join(c.content for c in children).split()) == f"text: {_expected(s)}".strip()


@given(st.lists(st.text(), max_size=5))
def test_paras_are_inert_paragraphs(lines):
    text = "\n".join(lines)
    tokens = PARSER.parse(paras(text))
    expected = [_expected(line) for line in re.split("\r\n|[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]", text)]
    expected = [e for e in expected if e]
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"] * len(expected)
    assert [" ".join(plain(t).split())
            for t in tokens if t.type == "inline"] == expected


def test_md_examples():
    assert md("**a** | [b](c)") == r"\*\*a\*\* \| \[b\](c)"
    assert md("<script>&amp;") == "&lt;script&gt;&amp;amp;"
    assert md("# 标题") == r"\# 标题"
    assert md("1. 甲") == r"1\. 甲" and md("1.研究") == "1.研究"
    assert md("增长77.8%，见 g.xlsx") == "增长77.8%，见 g.xlsx"
    assert md("a\n\tb\x00c\u202e") == "a bc"
    assert md("e\u0301") == "é"
    assert md("见 http://x.cn 与 www.y.cn") == r"见 http\://x.cn 与 www\.y.cn"
    assert md(None) == "—"
    assert paras(" 第一段 \n\n  - 第二段\n") == "第一段\n\n\\- 第二段"


def test_template_output_is_escaped_by_default():
    env = environment()
    assert env.from_string("{{ x }}").render(x="**a**") == r"\*\*a\*\*"
    assert env.from_string("{{ x|md }}{{ x|md|md }}").render(x="_") == r"\_\_"
    with pytest.raises(TypeError):
        env.from_string("{{ x }}").render(x=Decimal("1.5"))
    with pytest.raises(TypeError):
        env.from_string("{{ x }}").render(x=None)


def test_templates_dir_holds_the_report_template(monkeypatch):
    assert (templates_dir() / "report.md.j2").is_file()

    def missing(name):
        raise ModuleNotFoundError(name)

    import perfxl
    import perfxl.resources

    monkeypatch.setattr(perfxl.resources.resources, "files", missing)
    assert templates_dir() == Path(perfxl.__file__).resolve().parent.parent / "templates"


# -- file names ----------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "name", "expected"), [
    ("T001", "湛江市委组织部", "T001_湛江市委组织部"),
    ("T001", "a/b\\c:d*e?f\"g<h>i|j", "T001_a_b_c_d_e_f_g_h_i_j"),
    ("T001", "..", "T001"),
    ("T001", "../../etc/passwd", "T001__._etc_passwd"),
    ("T001", " 名称. ", "T001_名称"),
    ("T001", "a\x00b\nc\u202ed", "T001_ab cd"),
    ("CON", "", "_CON"),
    ("nul.txt", "", "_nul.txt"),
    ("COM1", "", "_COM1"),
    ("LPT9", "x", "LPT9_x"),
    ("", "", "无编码"),
    ("T001", "e\u0301", "T001_é"),
])
def test_safe_name(code, name, expected):
    assert safe_name(code, name) == expected


def test_safe_name_bounds_long_names():
    stem = safe_name("T001", "湛" * 200)
    assert len(stem.encode("utf-8")) <= 120
    assert stem.startswith("T001_湛湛")
    assert len(safe_name("X" * 300, "名").encode("utf-8")) <= 120
    device = safe_name("CON." + "x" * 70, "名" * 50)
    assert device.startswith("_CON.") and len(device.encode("utf-8")) <= 120


@given(st.text(), st.text())
def test_safe_name_stays_inside(code, name):
    stem = safe_name(code, name)
    assert stem and len(stem.encode("utf-8")) <= 120
    assert not re.search(r'[<>:"/\\|?*\x00-\x1f]', stem)
    assert ".." not in stem and not stem.endswith((".", " ")) and not stem.startswith(".")
    assert stem == unicodedata.normalize("NFC", stem)
    base = Path("/out/reports")
    assert (base / f"{stem}.md").parent == base


def test_write_reports_only_scored_files_and_unique_names(make_return, evaluate, tmp_path):
    good = evaluate(make_return("a.xlsx"))
    no_code = evaluate(make_return("b.xlsx", unit_code=None))
    no_code2 = evaluate(make_return("c.xlsx", unit_code=None))
    unreadable = FileResult(file="x.xlsx", status="unreadable", unit_code="X1", unit_name="乙")
    batch = BatchResult(RUBRIC, 2020, OPTIONS.deadline, [good, no_code, no_code2, unreadable])
    written = write_reports(batch, tmp_path)
    assert [p.name for p in written] == ["T001_测试市测试局.md", "无编码_测试市测试局.md",
                                         "无编码_测试市测试局_2.md"]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == sorted(p.name for p in written)
    assert written[0].read_text("utf-8") == render_report(good, batch)


# -- golden: the sample report's unit (spec §10) --------------------------------------------

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "returns-2020" / "440800001_中共湛江市委组织部本级.xlsx"
GOLDEN = Path(__file__).resolve().parent / "golden" / "440800001_中共湛江市委组织部本级.md"


def test_golden_report_of_the_sample_unit(evaluate):
    """Byte-for-byte what `perfxl run examples/returns-2020` writes for 湛江市委组织部. After a
    deliberate change of the template or the sample, regenerate the golden file with
    render_report(process_file(SAMPLE, SAMPLE.name, OPTIONS), OPTIONS) and review the diff."""
    result = evaluate(SAMPLE)
    assert result.status == "reviewed"
    assert safe_name(result.unit_code, result.unit_name) + ".md" == GOLDEN.name
    assert render_report(result, OPTIONS) == GOLDEN.read_text("utf-8")
