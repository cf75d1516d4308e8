"""The values that flow between stages: what was read, what was scored, what a file became."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Union

from perfxl.findings import Finding, Reply, Severity
from perfxl.spec.rubric import Rubric

if TYPE_CHECKING:
    from perfxl.spec.project import ProjectForm

#: a batch's form: a department rubric (spec §4, §12) or the project form (spec §13)
Form = Union[Rubric, "ProjectForm"]

BASIC_SHEET = "基础数据表"
SCORE_SHEET = "评分表"
GUIDE_SHEET = "填报说明"
META_SHEET = "_meta"

#: results.json status -> 汇总 状态 (spec §8)
STATUS_LABELS = {
    "reviewed": "已审核",
    "error": "有错误",
    "unreadable": "无法读取",
    "duplicate": "重复已忽略",
    "ignored": "已忽略",
}
#: 汇总's 状态 in display order: the terminal, the summary and the overview page list them so
STATUS_ORDER = ("已审核", "有错误", "无法读取", "模板不符", "重复已忽略", "已忽略")
MISMATCH_CODES = frozenset({"not-a-template", "template-mismatch"})
UNREADABLE_CODES = frozenset({"file-unreadable", "file-encrypted", "file-unsafe", "internal-error",
                              "file-inaccessible"}) | MISMATCH_CODES
#: unreadable for a reason of perfxl's or of this machine, not of the file: nothing goes back to the unit
NOT_THE_UNITS = frozenset({"internal-error", "file-inaccessible"})


MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Safety limits of spec §7; options may raise them."""

    file_bytes: int = 50 * MIB
    uncompressed_bytes: int = 1024 * MIB
    ratio: int = 100
    ratio_member_bytes: int = 10 * MIB
    members: int = 10_000
    rows: int = 10_000
    cols: int = 200
    seconds: float = 30.0
    memory_bytes: int = 2048 * MIB


@dataclass(frozen=True)
class Adjustment:
    """The bureau's own judgement of a manual indicator (`--adjust`)."""

    score: Decimal
    reason: str


@dataclass(frozen=True)
class Options:
    """Everything a batch depends on besides its files."""

    rubric: Rubric
    year: int
    deadline: dt.date
    #: unit code -> indicator code -> the bureau's adjustment
    adjustments: dict[str, dict[str, Adjustment]] = field(default_factory=dict)
    limits: Limits = Limits()
    #: the batch's other forms (`--form` repeated, spec §12): each file is read by the form its
    #: `_meta` names; `rubric` is the first form and the one a file without `_meta` is read by
    others: tuple[Form, ...] = ()
    #: the deadline given on the command line (None: each form's own, from `year`)
    deadline_given: dt.date | None = None

    @property
    def forms(self) -> tuple[Form, ...]:
        """Every form of the batch, the first one first."""
        return (self.rubric, *self.others)

    def form_named(self, form_id: str | None) -> Form | None:
        """The batch's form of this id, None when the batch has none."""
        return next((f for f in self.forms if f.id == form_id), None)

    def deadline_for(self, form: Form) -> dt.date:
        """A form's deadline in this batch: the command line's, else the form's own for `year`."""
        if form is self.rubric:
            return self.deadline
        return self.deadline_given or form.deadline(self.year)

    @classmethod
    def for_rubric(cls, rubric: Rubric, year: int | None = None, deadline: dt.date | None = None,
                   **kw) -> Options:
        y = year if year is not None else rubric.year
        return cls(rubric, y, deadline or rubric.deadline(y), deadline_given=deadline, **kw)


@dataclass
class FieldValue:
    """One field as found in a file: where, what was typed, what it means."""

    key: str
    value: object = None  # normalised; None = blank or unusable
    raw: object = None
    sheet: str | None = None
    cell: str | None = None  # None when the row was not found
    error: bool = False  # an error-level finding concerns the value

    @property
    def blank(self) -> bool:
        return self.value is None and not self.error

    @property
    def found(self) -> bool:
        return self.cell is not None


@dataclass
class ScoreRow:
    """One indicator row of 评分表."""

    code: str
    row: int | None = None  # 1-based sheet row
    weight: FieldValue = field(default_factory=lambda: FieldValue("weight"))
    score: FieldValue = field(default_factory=lambda: FieldValue("score"))
    note: FieldValue = field(default_factory=lambda: FieldValue("note"))


@dataclass
class Submission:
    """Everything read from one returned workbook, before any judgement."""

    file: str
    format: str = "xlsx"
    meta: dict[str, str] | None = None
    meta_cells: dict[str, str] = field(default_factory=dict)  # _meta key -> cell of its value
    fields: dict[str, FieldValue] = field(default_factory=dict)
    rows: dict[str, ScoreRow] = field(default_factory=dict)
    self_total: FieldValue = field(default_factory=lambda: FieldValue("score_total"))
    self_grade: FieldValue = field(default_factory=lambda: FieldValue("grade_self"))
    basic_sheet: str | None = None
    score_sheet: str | None = None
    findings: list[Finding] = field(default_factory=list)
    #: the 单位答复 of a returned feedback copy's 审核意见 sheet (perfxl.read.replies)
    replies: list[Reply] = field(default_factory=list)
    #: a project file's project sheets in workbook order (spec §13); `fields` then holds the
    #: first sheet's header fields (unit_code, unit_name, department, filing_date …)
    projects: list[ProjectSheet] = field(default_factory=list)

    def value(self, key: str) -> object:
        fv = self.fields.get(key)
        return fv.value if fv else None

    @property
    def unit_code(self) -> str | None:
        code = self.value("unit_code")
        if self.meta and self.meta.get("unit_code"):
            return self.meta["unit_code"]
        return code if isinstance(code, str) else None


# -- the project form (spec §13) --------------------------------------------------------------

#: the columns of a project sheet's indicator table, by key (ProjectRow.cells), in template order
PROJECT_COLUMNS = ("level1", "level2", "name", "direction", "target", "unit", "actual", "weight",
                   "self_score", "reason")


def project_key(name: object) -> str:
    """A 项目名称 as projects are matched by it (duplicates, repeats, resubmissions): spaces folded."""
    return " ".join(str(name or "").split())


@dataclass
class ProjectRow:
    """One indicator row of a project sheet as read: its sheet row and a FieldValue per column
    key of PROJECT_COLUMNS (level1/level2 already continued from the rows above)."""

    row: int  # 1-based sheet row
    cells: dict[str, FieldValue] = field(default_factory=dict)


@dataclass
class ProjectSheet:
    """One project sheet as read: its header, funds and text fields by key (project_name,
    budget_annual, spent, exec_weight, exec_score, exec_reason, target_text, score_total,
    grade_self, filing_date …) and its indicator rows in sheet order."""

    sheet: str
    fields: dict[str, FieldValue] = field(default_factory=dict)
    rows: list[ProjectRow] = field(default_factory=list)

    def value(self, key: str) -> object:
        fv = self.fields.get(key)
        return fv.value if fv else None


@dataclass(slots=True)  # slots: 10,000 units' indicators are held until the outputs are written
class ProjectIndicatorResult:
    """One indicator row of a project, scored (results.json `projects[].indicators[]`)."""

    row: int
    level1: str | None = None
    level2: str | None = None
    name: str | None = None
    direction: str | None = None  # "≥", "≤", "=", "定性"
    target: object = None  # as written (text), e.g. "≥95%"; the number read from it is target_value
    actual: object = None
    unit: str | None = None
    weight: Decimal | None = None
    self_score: Decimal | None = None
    reviewed_score: Decimal | None = None
    applicable: bool | None = True  # None: 无法计算
    target_value: Decimal | None = None
    actual_value: Decimal | None = None
    reason: str | None = None  # 偏差原因分析及改进措施


@dataclass
class ProjectResult:
    """One project sheet, scored (results.json `projects[]`)."""

    sheet: str
    project_name: str | None = None
    budget_annual: Decimal | None = None
    spent: Decimal | None = None
    execution_rate: Decimal | None = None
    execution_self_score: Decimal | None = None
    execution_score: Decimal | None = None
    indicators: list[ProjectIndicatorResult] = field(default_factory=list)
    self_total: Decimal | None = None
    reviewed_total: Decimal | None = None
    self_grade: str | None = None
    reviewed_grade: str | None = None
    capped_by_execution: bool | None = False
    #: every header, funds and text value by key (budget_initial, target_text, problems_text …)
    fields: dict[str, object] = field(default_factory=dict)
    #: where each of those was read (key -> (sheet, cell))
    cells: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: on a resubmission, against the same 项目名称 of the unit's last file: {resolved, still_open,
    #: new, changed_fields, previous_file} (as FileResult.since_last)
    since_last: dict | None = None

    def count(self, findings: list[Finding], severity: Severity) -> int:
        """Findings of this project's sheet among a file's findings."""
        return sum(1 for f in findings if f.sheet == self.sheet and f.severity is severity)


@dataclass(slots=True)  # slots: 112 bytes less each, and every unit's ~16 are held until the outputs are written
class IndicatorResult:
    """One indicator, scored."""

    code: str
    value: Decimal | int | None = None
    self_score: Decimal | None = None
    reviewed_score: Decimal | None = None
    applicable: bool | None = True  # False: 不适用; None: 无法计算
    reason: str | None = None  # None, "blank", "zero-denominator", "input-error"
    manual: bool = False
    adjusted: bool = False
    note: str | None = None  # the unit's 自评说明


@dataclass
class FileResult:
    """What one file became: the row of 汇总, the entry of results.json, a report."""

    file: str
    status: str = "reviewed"
    unit_code: str | None = None
    unit_name: str | None = None
    department: str | None = None
    fields: dict[str, object] = field(default_factory=dict)
    indicators: list[IndicatorResult] = field(default_factory=list)
    self_total: Decimal | None = None
    reviewed_total: Decimal | None = None
    self_grade: str | None = None
    reviewed_grade: str | None = None
    rescaled: bool = False
    findings: list[Finding] = field(default_factory=list)
    #: where each field was read (key -> "sheet!cell"), for reports and feedback
    cells: dict[str, tuple[str, str]] = field(default_factory=dict)
    format: str | None = None
    sha256: str | None = None
    modified: str | None = None  # docProps/core.xml dcterms:modified, for duplicates
    #: for a resubmitted file: {resolved, still_open, new, changed_fields, previous_file} and, when
    #: replies answered findings that are gone, replies_resolved: [{code, sheet, cell, reply}]
    since_last: dict | None = None
    #: the input's exact name (intake.Candidate.key) when `file`, shown as valid UTF-8, differs
    #: from it, so that the file can be opened again (feedback copies)
    key: str | None = None
    #: the unit's replies read from its file; each finding they match carries its own (`reply`)
    replies: list[Reply] = field(default_factory=list)
    #: the id of the form the file was read by (results.json `"form"`, spec §12)
    form: str | None = None
    #: a project file's projects in sheet order (spec §13); empty for a department file
    projects: list[ProjectResult] = field(default_factory=list)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    @property
    def errors(self) -> int:
        return self.count(Severity.ERROR)

    @property
    def warnings(self) -> int:
        return self.count(Severity.WARNING)

    @property
    def scored(self) -> bool:
        return self.status in ("reviewed", "error")

    @property
    def status_label(self) -> str:
        """汇总's 状态: `unreadable` splits into 无法读取 and 模板不符."""
        if self.status == "unreadable" and any(f.code in MISMATCH_CODES for f in self.findings):
            return "模板不符"
        return STATUS_LABELS[self.status]


@dataclass
class BatchResult:
    rubric: Rubric
    year: int
    deadline: dt.date
    files: list[FileResult] = field(default_factory=list)
    #: the batch's other forms (Options.others), each file's by FileResult.form
    others: tuple[Form, ...] = ()
    #: the deadline given on the command line (Options.deadline_given)
    deadline_given: dt.date | None = None
    not_submitted: list[dict[str, str | None]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: for the operator, not the units: a damaged state line, a history that was reset …
    notes: list[str] = field(default_factory=list)
    #: (relative path, where it now is) for each file of the output folder moved to 保留/
    set_aside: list[tuple[str, str]] = field(default_factory=list)
    #: outputs of an earlier run (unchanged since) that this run no longer makes, so removed
    removed: list[str] = field(default_factory=list)

    @property
    def forms(self) -> tuple[Form, ...]:
        """Every form of the batch, the first one first."""
        return (self.rubric, *self.others)

    def deadline_for(self, form: Form) -> dt.date:
        """A form's deadline in this batch: the command line's, else the form's own for `year`."""
        if form is self.rubric:
            return self.deadline
        return self.deadline_given or form.deadline(self.year)

    def form_of(self, result: FileResult) -> Form:
        """The form a file was read by (the first form when it names none of the batch's)."""
        return next((f for f in self.others if f.id == result.form), self.rubric)

    @property
    def project_files(self) -> list[FileResult]:
        """The scored files that hold projects (spec §13)."""
        return [r for r in self.files if r.scored and r.projects]

    @property
    def all_findings(self) -> list[Finding]:
        return [f for r in self.files for f in r.findings] + self.findings

    @property
    def internal_errors(self) -> list[Finding]:
        """perfxl's own failures (never the units'): the run ends with exit 3 after writing the rest."""
        return [f for f in self.all_findings if f.code == "internal-error"]
