"""Resubmissions of project files (spec §13): a unit's projects matched across runs by 项目名称.

A unit may send its projects in several files, and rename them. Each project has its own history
(`<unit>|<form>|project|<项目名称>`), whichever file it comes in. A file's own history
(`<unit>|<form>|file|<path>`) is compared with its previous version: the same path, else the
unit's earlier project file sharing most project names. The file's findings are compared over
the projects it still holds, so that a project now kept in another file (a duplicate, §6) is not
"resolved" here.
"""

from __future__ import annotations

import hashlib
import json

from perfxl.model import FileResult, project_key
from perfxl.write.results import json_value


def since_between(old: set[str], previous: dict, current: dict, fields: dict, unanswered) -> dict:
    """since_last: findings resolved, still open and new (old codes → current ones), inputs changed."""
    new = set(current["codes"])
    old_fields = previous.get("fields", {})
    changed = {k: [json_value(old_fields.get(k)), json_value(v)] for k, v in fields.items() if old_fields.get(k) != v}
    since = {"resolved": sorted(old - new), "still_open": sorted(old & new), "new": sorted(new - old),
             "changed_fields": changed, "previous_file": previous.get("file")}
    if unanswered:
        since["replies_resolved"] = [{"code": x.code, "sheet": x.sheet, "cell": x.cell, "reply": x.text}
                                     for x in unanswered]
    return since


def _codes_by_project(r: FileResult) -> tuple[list[str], dict[str, list[str]]]:
    """The file's own codes (no project sheet) and each project's codes, by name."""
    names = {p.sheet: project_key(p.project_name) for p in r.projects}
    own: set[str] = set()
    per: dict[str, set[str]] = {}
    for f in r.findings:
        name = names.get(f.sheet or "")
        if name:
            per.setdefault(name, set()).add(f.code)
        else:
            own.add(f.code)
    return sorted(own), {n: sorted(c) for n, c in per.items()}


def _previous(state, prefix: str, r: FileResult, names: set[str]) -> tuple[str | None, dict | None]:
    """The entry this file's previous version left: its own path's, else the unit's project file
    of the last run with most names in common (none in common: no previous version)."""
    own = f"{prefix}file|{r.file}"
    entry = state._get("u", own)
    if isinstance(entry, dict):
        return own, entry
    best, best_entry, overlap = None, None, 0
    for key in state.keys_with_prefix(f"{prefix}file|"):
        old = state._get("u", key)
        if not isinstance(old, dict) or key in state._new["u"]:
            continue
        common = len(names & set(old.get("projects", [])))
        if common > overlap:
            best, best_entry, overlap = key, old, common
    return best, best_entry


def compare_project_file(state, r: FileResult, prefix: str, unanswered, dump_project, enc) -> None:
    """since_last of a project file and of each of its projects; their entries kept for the next run
    (`state` a run.state.State; `dump_project` and `enc` its lossless encoders)."""
    names = [project_key(p.project_name) for p in r.projects]
    own, per = _codes_by_project(r)
    current = {"sha256": r.sha256, "file": r.file, "codes": sorted({*own, *(c for cs in per.values() for c in cs)}),
               "fields": {}, "own_codes": own, "project_codes": per, "projects": sorted(set(n for n in names if n))}
    _, previous = _previous(state, prefix, r, set(current["projects"]))
    if previous is None:
        r.since_last = None
    elif previous.get("sha256") == r.sha256 and previous.get("file") == r.file:
        r.since_last = previous.get("since_last")
    else:
        kept = set(current["projects"])
        old = set(previous.get("own_codes", previous.get("codes", [])))
        old |= {c for n, cs in previous.get("project_codes", {}).items() if n in kept for c in cs}
        r.since_last = since_between(old, previous, current, {}, unanswered)
    state._keep("u", f"{prefix}file|{r.file}", {**current, "since_last": r.since_last})
    seen: dict[str, int] = {}
    for pr in r.projects:  # each project matched across resubmissions by its 项目名称
        name = project_key(pr.project_name)
        if not name:
            continue
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:  # the same name twice in one file (project-repeated): its own history
            name = f"{name}#{seen[name]}"
        body = json.dumps({**dump_project(pr), "since_last": None}, sort_keys=True, ensure_ascii=False, default=str)
        codes = sorted({f.code for f in r.findings if f.sheet == pr.sheet})
        pr.since_last = state._since(f"{prefix}project|{name}", {
            "sha256": hashlib.sha256(body.encode()).hexdigest(), "file": r.file, "codes": codes,
            "fields": enc(pr.fields)}, pr.fields, None)
