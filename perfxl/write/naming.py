"""Output file names: `<单位编码>_<单位名称>` made safe for every file system, and unique."""

from __future__ import annotations

import re
from pathlib import Path

from perfxl.model import BatchResult, FileResult
from perfxl.write.text import clean

_RESERVED_CHARS = re.compile(r'[<>:"/\\|?*]')
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{p}{n}" for p in ("COM", "LPT") for n in (*"123456789", "¹", "²", "³")}
)
MAX_NAME_BYTES = 120
#: the outputs of a project file: `<单位编码>_<单位名称>_项目支出` (within the 120 bytes' margin of any file system)
PROJECT_SUFFIX = "_项目支出"


def _component(text: str, limit: int) -> str:
    text = " ".join(_RESERVED_CHARS.sub("_", clean(text)).split())
    text = re.sub(r"\.{2,}", ".", text).strip(" .")
    raw = text.encode("utf-8")[:limit]
    return raw.decode("utf-8", "ignore").rstrip(" .")


def safe_name(code: str, name: str) -> str:
    """`<code>_<name>` usable as a file name on Windows, macOS and Linux (no suffix): NFC, no
    separators, `..`, control or reserved characters, no device name, ≤ 120 UTF-8 bytes."""
    code_part = _component(code or "", MAX_NAME_BYTES // 2) or "无编码"
    # 2 bytes kept for the joining "_" and a possible device-name prefix
    name_part = _component(name or "", MAX_NAME_BYTES - len(code_part.encode("utf-8")) - 2)
    stem = f"{code_part}_{name_part}" if name_part else code_part
    if stem.split(".")[0].strip().upper() in _WINDOWS_DEVICES:
        stem = f"_{stem}"
    return stem


def output_stems(batch: BatchResult) -> list[tuple[FileResult, str]]:
    """Each scored file with the stem of its outputs (<code>_<name>, `_项目支出` after it for a
    project file, made unique), so that a unit's report, Word report, page and feedback copy pair up."""
    out: list[tuple[FileResult, str]] = []
    used: set[str] = set()
    several = _units_with_several_project_files(batch)
    for result in batch.files:
        if not result.scored:
            continue
        stem = safe_name(result.unit_code or "", result.unit_name or Path(result.file).stem)
        if result.projects:  # a unit's project file beside its department file (spec §13)
            stem += PROJECT_SUFFIX
            if result.unit_code in several:  # which of its project files: what its own name adds
                stem += _component(_distinct(result), 40)
        out.append((result, unique(stem, used)))
    return out


def _units_with_several_project_files(batch: BatchResult) -> set[str]:
    seen: dict[str, int] = {}
    for r in batch.files:
        if r.scored and r.projects and r.unit_code:
            seen[r.unit_code] = seen.get(r.unit_code, 0) + 1
    return {code for code, n in seen.items() if n > 1}


def _distinct(result: FileResult) -> str:
    """What a project file's own name says beyond the unit (…_项目支出（体育）.xlsx → （体育）), else
    its whole name after an underscore."""
    stem = Path(result.file).stem
    rest = stem
    for known in (result.unit_code or "", result.unit_name or "", "项目支出绩效自评表", "项目支出", "自评表"):
        if known:
            rest = rest.replace(known, "")
    rest = rest.strip(" _-.")
    if not rest:
        return f"_{stem}"
    return rest if rest[0] in "（(【[" else f"_{rest}"


def unique(stem: str, used: set[str]) -> str:
    """`stem`, or `stem_2`, `stem_3` … when taken (case-insensitively: Windows and macOS fold
    case); the name returned is added to `used`."""
    name, n = stem, 1
    while name.casefold() in used:  # units without a code, or names equal after cleaning
        n += 1
        name = f"{stem}_{n}"
    used.add(name.casefold())
    return name
