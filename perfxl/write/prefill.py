"""Pre-filled, locked templates: one per roster unit (spec §2, `perfxl template --roster`)."""

from __future__ import annotations

from pathlib import Path

from perfxl.read.roster import Roster, RosterUnit
from perfxl.spec.rubric import Rubric


def prefill_values(unit: RosterUnit, year: int) -> dict[str, object]:
    """What a unit's pre-filled template carries (and locks)."""
    out: dict[str, object] = {"unit_name": unit.name, "unit_code": unit.code}
    if unit.department:
        out["department"] = unit.department
    out["eval_year"] = year
    out.update(unit.figures)
    return out


def write_prefilled(roster: Roster, rubric: Rubric, year: int | None, out_dir: Path) -> list[Path]:
    """One pre-filled, locked template per roster unit: `<code>_<name>.xlsx`, in roster order
    (of the project form's workbook when `rubric` is a ProjectForm, spec §13: `<code>_<name>_项目支出.xlsx`,
    beside the department form's copies of an earlier run into the same folder).

    The folder is an output folder (spec §11): it must be new, empty or perfxl's; a copy someone
    changed since perfxl wrote it is set aside in 保留/, never overwritten."""
    from perfxl.write.folder import OutputFolder
    from perfxl.write.naming import PROJECT_SUFFIX, safe_name, unique
    from perfxl.write.project_template import write_project_template
    from perfxl.write.template import write_template

    project = getattr(rubric, "kind", "") == "项目支出"
    write = write_project_template if project else write_template
    suffix = PROJECT_SUFFIX if project else ""  # both forms' copies side by side in one folder
    year = year if year is not None else rubric.year
    folder = OutputFolder.open(Path(out_dir), purpose="prefill")
    try:
        writer = folder.writer()
        written: list[Path] = []
        used: set[str] = set()
        for unit in roster.units:
            stem = unique(safe_name(unit.code, unit.name) + suffix, used)  # codes equal once cleaned for a file name
            rel = folder.child("", f"{stem}.xlsx")
            dest = folder.path(rel)
            with writer.path(folder.target(rel)) as tmp:
                write(tmp, rubric, year, prefill_values(unit, year))  # type: ignore[arg-type]
            written.append(dest)
        # the other form's copies of an earlier run stay: a bureau sends both forms to each unit
        folder.finish(keep=lambda rel: rel.endswith(f"{PROJECT_SUFFIX}.xlsx") != project)
    except BaseException:
        folder.abort()
        raise
    finally:
        folder.release()
    return written
