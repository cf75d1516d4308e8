"""Build the sample folder examples/returns-hunan-2020/ for the second built-in form, hn-dept-2020.

    python examples/make_samples_hunan.py            # rebuild the folder, verify it, refresh README table
    python examples/make_samples_hunan.py --check    # only verify the committed folder (exit 1 on mismatch)

Five invented units of 新邵县 (湖南省邵阳市, administrative code 430522) return the form's own
template (`build_template` of hn-dept-2020: other fields, other indicators, other 校验 rows than
the Guangdong form), filled through its defined names with openpyxl, exactly as make_samples.py
fills the 湛江 samples (its `fill` and deterministic `saved` are reused). One return is clean; the
others show this form's own checks (“三公”经费分项, 公务接待费预算, 预算调整率, 按时完成工作数) and
its rules (≥ bands of 预算完成率, ≤ bands of 预算控制率, 比例 of 政府采购执行率, 不适用).

`EXPECTED` and `TOTALS` are the contract checked by `check()`, as in make_samples.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import shutil
import sys
import tempfile
from collections import Counter
from decimal import Decimal
from pathlib import Path

from perfxl.model import STATUS_LABELS, FileResult, Options
from perfxl.read.values import format_number
from perfxl.run.pipeline import BatchResult, run_batch
from perfxl.spec.form import builtin_form
from perfxl.write.template import build_template

HERE = Path(__file__).resolve().parent
OUT = HERE / "returns-hunan-2020"
README = HERE / "README.md"
FORM = builtin_form("hn-dept-2020")
RUBRIC = FORM.rubric
D = Decimal


def _base():
    """make_samples.py, loaded from its path (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_samples", HERE / "make_samples.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


BASE = _base()
Sample = BASE.Sample

#: the 自评说明 of the manual indicators (the form's own checklist wording)
MANUAL_NOTES = {
    "A1": "绩效目标符合国家法律法规和县国民经济和社会发展规划，与本单位“三定”职责和中长期规划相符，佐证：部门整体支出绩效目标申报表。",
    "A2": "年度目标已分解为具体工作任务，各项指标有可衡量的指标值，与年度计划数和预算资金相匹配。",
    "B6": "已制定预算资金管理办法、内部财务管理制度和会计核算制度，制度合法合规，佐证：内部控制制度汇编。",
    "B7": "资金使用符合财经法规和财务制度，拨付审批手续完整，重大开支经集体研究，不存在截留、挤占、挪用、虚列支出。",
    "B8": "部门预算、决算按规定的内容和时限在县政府门户网站公开，基础数据真实完整。",
    "B10": "基础数据和会计信息资料真实、完整、准确，与部门决算报表一致。",
    "B11": "已制定固定资产管理办法，资产配置、使用、处置均有制度规定。",
    "B12": "资产保存完整、配置合理，处置履行报批手续，账实相符，出租收入及时足额上缴。",
    "C4": "年度重点工作全部完成，经济效益、社会效益和生态效益明显，佐证：年度工作总结。",
}


def unit(name: str, code: str, department: str, *, we: str = "我局", duties: tuple[str, ...],
         works: tuple[str, ...], effects: tuple[str, ...], problems: tuple[str, ...] = (), team: int = 6,
         filed: dt.date = dt.date(2021, 6, 15), **figures: object) -> dict[str, object]:
    """A complete return of an invented 新邵县 unit; `figures` set or override fields and scores."""
    vals: dict[str, object] = {
        "unit_name": name, "unit_code": code, "department": department, "unit_type": "行政单位",
        "eval_year": 2020, "filing_date": filed, "contact": "办公室", "phone": "0739-3621000",
        "eval_team_size": team,
        "budget_approved_date": dt.date(2020, 1, 20), "budget_published_date": dt.date(2020, 2, 5),
        "text_functions": "\n".join((f"{name}是新邵县人民政府工作部门，属行政单位。主要职责如下：",
                                     *(f"{i}.{d}" for i, d in enumerate(duties, 1)))),
        "text_key_work": "\n".join(f"{i}、{w}" for i, w in enumerate(works, 1)),
        "text_targets": "\n".join(f"{i}、{w.split('，')[0].rstrip('。')}，全年计划任务按期完成。"
                                  for i, w in enumerate(works, 1)),
        "text_process": "\n".join((
            f"（一）评价小组情况。{we}成立部门整体支出绩效自评工作小组共{team}人，由主要负责人任组长。",
            f"（二）自评工作过程。{we}对照部门整体支出绩效评价指标体系逐项收集资料、开展自评，形成自评报告。")),
        "text_effects": "\n".join(f"{i}.{e}" for i, e in enumerate(effects, 1)),
        "text_austerity": "严格落实中央八项规定精神，压减一般性支出，公务接待实行公函制度和清单管理。",
        "text_problems": "\n".join(f"{i}.{p}" for i, p in enumerate(problems, 1)) if problems else "无",
        "text_measures": "1.提高预算编制的精准度，减少年中追加。\n2.加强绩效运行监控，加快预算执行进度。",
        "text_other": "无",
    }
    for ind in RUBRIC.indicators:
        vals[f"score_{ind.code}"] = ind.weight
        if ind.code in MANUAL_NOTES:
            vals[f"note_{ind.code}"] = MANUAL_NOTES[ind.code]
    vals.update(figures)
    scores = [D(str(vals[f"score_{i.code}"])) for i in RUBRIC.indicators
              if isinstance(vals.get(f"score_{i.code}"), int | float | Decimal)]
    vals.setdefault("score_total", sum(scores, D(0)))
    vals.setdefault("grade_self", RUBRIC.grade(D(str(vals["score_total"]))))
    return vals


def finance_bureau() -> dict[str, object]:
    """Clean: every figure consistent, self scores as the form's rules give them, every deduction explained.

    B1 (35.20 + 1860.00 + 120.50 − 47.40) / (35.20 + 1860.00 + 120.50) = 97.65% → ≥95% band, 3;
    B2 120.50 / 1860.00 = 6.48% → ≤10% band, 4; B5 4 × 205.80 / 210.00 = 3.92; C2 3 × 11 / 12 = 2.75."""
    return unit(
        "新邵县财政局本级", "430522001", "新邵县财政局",
        duties=("贯彻执行财税方针政策，拟订全县财政发展规划。", "编制县级年度预决算草案并组织执行。",
                "负责县级预算绩效管理工作。"),
        works=("组织编制2020年县级部门预算，推进预算管理一体化。", "全面实施预算绩效管理，开展重点项目绩效评价。",
               "落实减税降费政策，保障“六保”资金。"),
        effects=("县级一般公共预算收入完成年度目标，“三保”支出足额保障。", "完成12个重点项目绩效评价，评价结果与预算安排挂钩。"),
        problems=("资产出租收入上缴不够及时。",),
        staff_quota=56, staff_actual=52,
        carryover_begin=D("35.20"), budget_initial=D("1860.00"), budget_added=D("120.50"),
        income_total=D("1980.50"), income_fiscal=D("1980.50"),
        expense_total=D("1968.30"), expense_basic=D("1120.60"), expense_project=D("847.70"), carryover_end=D("47.40"),
        sangong_budget_prev=D("18.60"), sangong_budget=D("17.20"), sangong_actual=D("15.86"),
        sangong_car=D("11.74"), sangong_abroad=D("0"), sangong_reception=D("4.12"),
        reception_budget_prev=D("6.00"), reception_budget=D("5.40"),
        public_budget=D("96.00"), public_actual=D("91.35"),
        procurement_budget=D("210.00"), procurement_actual=D("205.80"),
        fixed_assets_total=D("1320.45"), fixed_assets_in_use=D("1320.45"),
        tasks_planned=12, tasks_done=12, tasks_on_time=11, tasks_quality=12, satisfaction=D("0.95"),
        score_B1=3, note_B1="预算完成率97.65%，低于100%不足5个百分点，按每低5%扣2分扣2分。",
        score_B2=4, note_B2="本年追加预算120.50万元，预算控制率6.48%，在10%以内，扣1分。",
        score_B5=D("3.92"), note_B5="政府采购执行率98.00%，按比例得3.92分。",
        score_C2=D("2.75"), note_C2="计划工作12项，按时完成11项，1项因疫情延期。",
        score_B12=D("4.5"), note_B12="资产出租收入有1笔未及时上缴，扣0.5分，已整改。",
    )


def education_bureau() -> dict[str, object]:
    """“三公”经费分项之和 11.70 ≠ 决算数 12.90 (sangong-sum-mismatch, this form's own); 追加 1250.00 is
    32.38% of 年初预算 3860.00: budget-adjustment-high (warning) and B2 in no band, 0."""
    return unit(
        "新邵县教育局本级", "430522002", "新邵县教育局",
        duties=("贯彻执行教育方针政策，统筹全县各级各类教育发展。", "负责全县学前教育、义务教育和普通高中教育的管理。"),
        works=("推进义务教育均衡发展，新建、改扩建学校4所。", "落实学生资助政策，做到应助尽助。"),
        effects=("新增学位2400个，消除56人以上大班额。", "发放各类学生资助资金，惠及学生1.2万人次。"),
        team=8,
        staff_quota=88, staff_actual=84,
        carryover_begin=D("120.40"), budget_initial=D("3860.00"), budget_added=D("1250.00"),
        income_total=D("5110.00"), income_fiscal=D("5110.00"),
        expense_total=D("5016.80"), expense_basic=D("1630.20"), expense_project=D("3386.60"), carryover_end=D("213.60"),
        sangong_budget_prev=D("15.00"), sangong_budget=D("14.20"), sangong_actual=D("12.90"),
        sangong_car=D("8.60"), sangong_abroad=D("0"), sangong_reception=D("3.10"),
        reception_budget_prev=D("4.00"), reception_budget=D("3.60"),
        public_budget=D("180.00"), public_actual=D("172.45"),
        procurement_budget=D("1560.00"), procurement_actual=D("1560.00"),
        fixed_assets_total=D("4862.30"), fixed_assets_in_use=D("4862.30"),
        tasks_planned=10, tasks_done=10, tasks_on_time=10, tasks_quality=10, satisfaction=D("0.935"),
        # B1 (120.40 + 3860.00 + 1250.00 − 213.60) / 5230.40 = 95.92% → 3
        score_B1=3, note_B1="预算完成率95.92%，年末结转213.60万元为学校建设尾款，扣2分。",
        score_B2=0, note_B2="年中追加教育专项1250.00万元，预算控制率32.38%，超过30%不得分。",
    )


def health_bureau() -> dict[str, object]:
    """按时完成 15 项 > 实际完成 14 项 (task-count-mismatch, this form's own); “三公”预算 21.00 over last
    year's 20.00 (+5%): A4 = 8 − 0.8 × 5 = 4, but the unit wrote 8 (score-differs)."""
    return unit(
        "新邵县卫生健康局本级", "430522003", "新邵县卫生健康局",
        duties=("组织拟订全县卫生健康事业发展规划。", "负责疾病预防控制和突发公共卫生事件应急处置。"),
        works=("做好新冠肺炎疫情防控，落实“四早”要求。", "推进县域医共体建设。"),
        effects=("全县未发生本地聚集性疫情。", "县域内就诊率达到90%。"),
        staff_quota=64, staff_actual=61,
        carryover_begin=D("42.80"), budget_initial=D("2480.00"), budget_added=D("610.00"),
        income_total=D("3090.00"), income_fiscal=D("3090.00"),
        expense_total=D("3080.60"), expense_basic=D("980.60"), expense_project=D("2100.00"), carryover_end=D("52.20"),
        sangong_budget_prev=D("20.00"), sangong_budget=D("21.00"), sangong_actual=D("19.40"),
        sangong_car=D("12.60"), sangong_abroad=D("0"), sangong_reception=D("6.80"),
        reception_budget_prev=D("7.00"), reception_budget=D("7.00"),
        public_budget=D("120.00"), public_actual=D("118.20"),
        procurement_budget=D("860.00"), procurement_actual=D("860.00"),
        fixed_assets_total=D("2315.70"), fixed_assets_in_use=D("2315.70"),
        tasks_planned=16, tasks_done=14, tasks_on_time=15, tasks_quality=14, satisfaction=D("0.962"),
        # B1 (42.80 + 2480 + 610 − 52.20) / 3132.80 = 98.33% → 3; B2 610 / 2480 = 24.60% → 2;
        # C1 5 × 14/16 = 4.375 → 4.38; C2 3 × 15/16 = 2.8125 → 2.81; C3 3 × 14/16 = 2.625 → 2.63
        score_B1=3, note_B1="预算完成率98.33%，扣2分。",
        score_B2=2, note_B2="年中追加疫情防控资金610.00万元，预算控制率24.60%。",
        score_C1=D("4.38"), note_C1="计划16项，完成14项。",
        score_C2=D("2.81"), note_C2="按时完成15项。",
        score_C3=D("2.63"), note_C3="质量达标14项。",
    )


def agriculture_bureau() -> dict[str, object]:
    """Rules at work, no error: 政府采购 80% → B5 4 × 0.8 = 3.2 (比例); 追加 25% → B2 2; no 满意度 survey:
    C5 不适用 (its weight 3 leaves the total, reviewed Σ / 97 × 100)."""
    return unit(
        "新邵县农业农村局本级", "430522004", "新邵县农业农村局",
        duties=("统筹研究和组织实施“三农”工作战略、规划和政策。", "负责粮食等农产品生产和农业防灾减灾。"),
        works=("稳定粮食生产，完成早稻种植任务。", "推进高标准农田建设2.1万亩。"),
        effects=("全县粮食播种面积和产量稳中有增。", "建成高标准农田2.1万亩，通过市级验收。"),
        staff_quota=72, staff_actual=70,
        carryover_begin=D("66.00"), budget_initial=D("2640.00"), budget_added=D("660.00"),
        income_total=D("3300.00"), income_fiscal=D("3300.00"),
        expense_total=D("3218.40"), expense_basic=D("1018.40"), expense_project=D("2200.00"), carryover_end=D("147.60"),
        sangong_budget_prev=D("16.00"), sangong_budget=D("15.20"), sangong_actual=D("14.10"),
        sangong_car=D("10.30"), sangong_abroad=D("0"), sangong_reception=D("3.80"),
        reception_budget_prev=D("4.50"), reception_budget=D("4.20"),
        public_budget=D("130.00"), public_actual=D("124.80"),
        procurement_budget=D("950.00"), procurement_actual=D("760.00"),
        fixed_assets_total=D("1802.60"), fixed_assets_in_use=D("1802.60"),
        tasks_planned=9, tasks_done=9, tasks_on_time=9, tasks_quality=9, satisfaction=None,
        # B1 (66 + 2640 + 660 − 147.60) / 3366 = 95.61% → 3
        score_B1=3, note_B1="预算完成率95.61%，扣2分。",
        score_B2=2, note_B2="年中追加高标准农田建设资金660.00万元，预算控制率25.00%。",
        score_B5=D("3.2"), note_B5="政府采购执行率80.00%，部分农机采购项目结转下年。",
        score_C5="不适用", note_C5="本年度未开展满意度调查。",
    )


def natural_resources_bureau() -> dict[str, object]:
    """公务接待费预算 9.00 above the whole “三公”预算 8.50 (reception-over-sangong, this form's own); filed
    2021-06-25, 5 days after 次年6月20日 (late-submission)."""
    return unit(
        "新邵县自然资源局本级", "430522005", "新邵县自然资源局",
        duties=("履行全县自然资源资产所有者职责。", "负责国土空间规划和用途管制。"),
        works=("编制县级国土空间总体规划。", "完成第三次全国国土调查县级任务。"),
        effects=("县级国土空间总体规划形成初步成果。", "第三次国土调查成果通过省级核查。"),
        filed=dt.date(2021, 6, 25),
        staff_quota=48, staff_actual=47,
        carryover_begin=D("28.60"), budget_initial=D("1420.00"), budget_added=D("85.00"),
        income_total=D("1505.00"), income_fiscal=D("1505.00"),
        expense_total=D("1500.20"), expense_basic=D("720.20"), expense_project=D("780.00"), carryover_end=D("33.40"),
        sangong_budget_prev=D("9.00"), sangong_budget=D("8.50"), sangong_actual=D("7.90"),
        sangong_car=D("4.80"), sangong_abroad=D("0"), sangong_reception=D("3.10"),
        reception_budget_prev=D("9.50"), reception_budget=D("9.00"),
        public_budget=D("70.00"), public_actual=D("66.50"),
        procurement_budget=D("120.00"), procurement_actual=D("120.00"),
        fixed_assets_total=D("860.30"), fixed_assets_in_use=D("860.30"),
        tasks_planned=8, tasks_done=8, tasks_on_time=8, tasks_quality=8, satisfaction=D("0.918"),
        # B1 (28.60 + 1420 + 85 − 33.40) / 1533.60 = 97.82% → 3; B2 85 / 1420 = 5.99% → 4
        score_B1=3, note_B1="预算完成率97.82%，扣2分。",
        score_B2=4, note_B2="本年追加85.00万元，预算控制率5.99%，扣1分。",
    )


SAMPLES = (
    Sample("430522001_新邵县财政局本级.xlsx",
           "干净的一份：数据前后一致，自评得分与按本表单规则计算的一致，扣分均有说明（预算完成率 97.65% 得 3 分，"
           "预算控制率 6.48% 得 4 分，政府采购执行率 98% 按比例得 3.92 分）",
           BASE.from_template(finance_bureau), "reviewed", (), ("96.17", "优秀", "96.17", "优秀")),
    Sample("430522002_新邵县教育局本级.xlsx",
           "本表单自己的校验：“三公”经费分项之和 11.70 与决算数 12.90 不符；本年追加 1250.00 万元超过年初预算的 30%"
           "（预算调整率偏高，B2 不得分）",
           BASE.from_template(education_bureau), "error", ("budget-adjustment-high", "sangong-sum-mismatch"),
           ("93", "优秀", "93", "优秀")),
    Sample("430522003_新邵县卫生健康局本级.xlsx",
           "按时完成工作数 15 项多于实际完成的 14 项（本表单的校验）；“三公”经费预算比上年增加 5%，A4 按规则应得 4 分"
           "而自评 8 分",
           BASE.from_template(health_bureau), "error", ("score-differs", "task-count-mismatch"),
           ("93.82", "优秀", "89.82", "良好")),
    Sample("430522004_新邵县农业农村局本级.xlsx",
           "未开展满意度调查：C5 不适用，剔除后折算为百分制；政府采购执行率 80% 按比例得 3.2 分",
           BASE.from_template(agriculture_bureau), "reviewed", ("not-applicable",),
           ("91.2", "优秀", "94.02", "优秀")),
    Sample("430522005_新邵县自然资源局本级.xlsx",
           "公务接待费预算 9.00 万元超过“三公”经费预算 8.50 万元（本表单的校验）；6 月 25 日才报送，逾期 5 天",
           BASE.from_template(natural_resources_bureau), "error", ("late-submission", "reception-over-sangong"),
           ("97", "优秀", "97", "优秀")),
)

EXPECTED: dict[str, tuple[str, list[str]]] = {s.file: (s.status, sorted(s.codes)) for s in SAMPLES}
TOTALS = {s.file: s.totals for s in SAMPLES if s.totals is not None}


def build(out: Path = OUT) -> None:
    """(Re)write the sample folder from the form's own template: its old contents are deleted first."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "hn-dept-2020_template.xlsx"
        build_template(template, RUBRIC)
        for s in SAMPLES:
            (out / s.file).write_bytes(s.make(template))


def run(folder: Path = OUT, jobs: int | None = 1) -> BatchResult:
    return run_batch(folder, Options.for_rubric(RUBRIC), jobs=jobs)


def _show(d: Decimal | None) -> str | None:
    return None if d is None else format_number(d)


def check(folder: Path = OUT, jobs: int | None = 1, batch: BatchResult | None = None) -> list[str]:
    """Run perfxl (form hn-dept-2020) over the folder; the differences from EXPECTED and TOTALS."""
    batch = batch or run(folder, jobs)
    problems = []
    got = {r.file: r for r in batch.files}
    problems += [f"{file}: not a sample" for file in sorted(set(got) - set(EXPECTED))]
    for file, (status, codes) in EXPECTED.items():
        r = got.get(file)
        if r is None:
            problems.append(f"{file}: missing")
            continue
        found = (r.status, sorted(f.code for f in r.findings))
        if found != (status, codes):
            problems.append(f"{file}: expected {status} {codes}, got {found[0]} {found[1]}")
        totals = (_show(r.self_total), r.self_grade, _show(r.reviewed_total), r.reviewed_grade)
        if file in TOTALS and totals != TOTALS[file]:
            problems.append(f"{file}: expected totals {TOTALS[file]}, got {totals}")
    return problems


BEGIN, END = "<!-- samples-hunan:begin -->", "<!-- samples-hunan:end -->"


def _pair(r: FileResult, total: Decimal | None, grade: str | None) -> str:
    return "" if not r.scored else f"{_show(total)} {grade}" if total is not None else "—"


def table(batch: BatchResult) -> str:
    """The README table, from an actual run (a code of this form's own is named by its 校验 name)."""
    shows = {s.file: s.shows for s in SAMPLES}
    lines = ["| 文件 | 演示内容 | 状态 | 自评总分/等级 | 核定总分/等级 | 问题（规则 × 次数） |",
             "|---|---|---|---|---|---|"]
    for r in sorted(batch.files, key=lambda r: r.file):
        counts = Counter(f.code for f in r.findings)
        severity = {f.code: f.severity.label for f in r.findings}
        found = "<br>".join(f"`{c}`（{severity[c]}）" + (f" × {n}" if n > 1 else "") for c, n in sorted(counts.items()))
        lines.append(f"| `{r.file}` | {shows.get(r.file, '')} | {STATUS_LABELS[r.status]} `{r.status}` | "
                     f"{_pair(r, r.self_total, r.self_grade)} | {_pair(r, r.reviewed_total, r.reviewed_grade)} | {found} |")
    return "\n".join(lines)


def update_readme(batch: BatchResult) -> None:
    text = README.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    README.write_text(text[:start] + "\n" + table(batch) + "\n" + text[end:], encoding="utf-8", newline="\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build and check examples/returns-hunan-2020.")
    parser.add_argument("--check", action="store_true", help="only check the committed folder")
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.check:
        build(args.out)
    batch = run(args.out)
    problems = check(args.out, batch=batch)
    for p in problems:
        print(p, file=sys.stderr)
    if not problems and not args.check and args.out == OUT and BEGIN in README.read_text(encoding="utf-8"):
        update_readme(batch)
    if not problems:
        print(f"{len(EXPECTED)} samples in {args.out}: all as expected")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
