"""Findings: one problem in one file, with its code, severity, position and message.

Findings are values, collected and returned, never raised. The catalogue below is the public
contract of spec §5: codes are stable, kebab-case, and each has one severity.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def label(self) -> str:
        return {"error": "错误", "warning": "警告", "info": "提示"}[self.value]


E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741  (the catalogue reads as a table)

#: code -> (severity, short Chinese title)
CATALOGUE: dict[str, tuple[Severity, str]] = {
    "file-unreadable": (E, "文件无法读取"),
    "file-encrypted": (E, "文件设有密码"),
    "file-unsafe": (E, "文件超出安全限制"),
    "internal-error": (E, "perfxl 内部错误"),
    # this machine could not open the file (no permission, held by another program): the
    # operator's environment, not the unit's file — never sent back
    "file-inaccessible": (E, "本机无法打开文件"),  # perfxl failed, not the file: status unreadable, exit 3
    "not-a-template": (E, "不是本次下发的模板"),
    "template-mismatch": (E, "模板版本或指标体系不符"),
    "meta-missing": (W, "缺少模板标识"),
    "missing-value": (E, "必填项为空"),
    "type-error": (E, "填写格式错误"),
    "value-out-of-range": (E, "数值超出范围"),
    "ambiguous-label": (E, "项目名称重复"),
    "formula-not-calculated": (E, "公式未计算"),
    "formula-in-input": (I, "填报单元格含公式"),
    "balance-mismatch": (E, "收支不平衡"),
    "sum-mismatch": (E, "分项与合计不符"),
    "year-mismatch": (E, "评价年度不符"),
    "date-order": (E, "日期先后矛盾"),
    "weight-changed": (E, "分值被修改"),
    "indicator-missing": (E, "缺少指标"),
    "score-out-of-range": (E, "自评得分超出范围"),
    "total-mismatch": (E, "自评总分与分项合计不符"),
    "grade-mismatch": (E, "自评等级与总分不符"),
    "unit-code-changed": (E, "单位编码被修改"),
    "score-differs": (W, "自评得分与核定得分不一致"),
    "zero-denominator": (W, "比率分母为零"),
    "deduction-unexplained": (W, "扣分未说明原因"),
    "full-marks-unexplained": (W, "满分未提供佐证"),
    "full-marks-despite-problems": (W, "自述存在问题但全部满分"),
    "unbudgeted-spending": (W, "无预算而有支出"),
    "late-submission": (W, "逾期报送"),
    "magnitude-suspect": (E, "疑似金额单位错误"),
    "duplicate-submission": (W, "同一单位重复报送"),
    "unknown-unit": (W, "单位不在名单内"),
    "not-submitted": (W, "单位未报送"),
    "adjustment-unused": (W, "核定调整未使用"),
    "ledger-mismatch": (W, "与财政数据不符"),
    "not-applicable": (I, "指标不适用"),
    "score-not-applicable": (I, "不适用指标填写了得分"),
    "percent-assumed": (I, "按百分数理解"),
    "date-from-serial": (I, "按日期序号理解"),
    "name-label-conflict": (I, "名称定位与文字定位不一致"),
    "bureau-adjusted": (I, "财政核定调整"),
    "not-a-spreadsheet": (I, "非电子表格文件"),
    "ignored-file": (I, "已忽略的文件"),
    # the project form (spec §13, v3)
    "weight-total": (E, "分值合计不为100"),
    "weight-split": (W, "一级指标分值与表单不符"),
    "deviation-unexplained": (W, "偏差未说明原因"),
    "target-too-low": (W, "年度指标值设置偏低"),
    "indicator-kinds": (E, "绩效指标类别不全"),
    "spending-over-budget": (E, "执行数超过预算数"),
    "unit-inconsistent": (E, "各项目表单位信息不一致"),
    "project-repeated": (E, "同一文件中项目重复"),
    "sheet-hidden": (I, "隐藏的工作表未读取"),
}


@dataclass(frozen=True)
class Finding:
    """One problem. `cells` lists all cells involved, the primary one first."""

    code: str
    message: str
    sheet: str | None = None
    cells: tuple[str, ...] = ()
    file: str | None = None
    unit_code: str | None = None
    #: machine-readable details for feedback comments (expected, found, …)
    details: dict = field(default_factory=dict, compare=False, hash=False)
    #: the unit's 单位答复 to this finding (a returned feedback copy); the unit's answer does not
    #: change which problem this is, so it takes no part in equality
    reply: str | None = field(default=None, compare=False)
    #: a form's own code (a 校验 row, spec §12) carries its (severity, name); the catalogue's codes need none
    entry: tuple[Severity, str] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.code not in CATALOGUE and self.entry is None:
            raise ValueError(f"unknown finding code {self.code!r}")

    @property
    def severity(self) -> Severity:
        return CATALOGUE[self.code][0] if self.code in CATALOGUE else self.entry[0]  # type: ignore[index]

    @property
    def title(self) -> str:
        return CATALOGUE[self.code][1] if self.code in CATALOGUE else self.entry[1]  # type: ignore[index]

    @property
    def cell(self) -> str | None:
        return self.cells[0] if self.cells else None

    def located(self, file: str, unit_code: str | None) -> Finding:
        """The same finding, placed in a file."""
        return replace(self, file=file, unit_code=unit_code)


@dataclass(frozen=True)
class Reply:
    """A unit's 单位答复 on one row of the 审核意见 sheet of a returned feedback copy."""

    code: str
    sheet: str | None  # None: the row names no sheet (or the column is gone)
    cell: str | None  # the primary cell, A1; None: the finding had none
    text: str


SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def count(findings: list[Finding], severity: Severity) -> int:
    return sum(1 for f in findings if f.severity is severity)
