"""Text shared by every output: unit text made plain, and the one sentence on a resubmission."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING

from perfxl.findings import CATALOGUE

if TYPE_CHECKING:
    from perfxl.spec.fields import Field

_LINE_BREAKS = re.compile("\r\n|[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
#: bidi embeddings/overrides/isolates (they can make a name read backwards) and the BOM
_INVISIBLE = "\u202a-\u202e\u2066-\u2069\ufeff"
_SPACES = re.compile(r"[^\S\n]")  # whitespace other than \n (str.isspace's set)
#: how much of a reply the one line on a resubmission quotes
REPLY_SHOWN = 40
#: control characters (Cc) that are not whitespace, surrogates (Cs), bidi controls and the BOM
_DROPPED = re.compile(f"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff{_INVISIBLE}]")


def clean(value: object) -> str:
    """Unit text made plain: line breaks unified to \\n, other whitespace to spaces, control and
    bidi characters removed, then NFC."""
    text = _LINE_BREAKS.sub("\n", str(value))
    text = _SPACES.sub(" ", text)
    return unicodedata.normalize("NFC", _DROPPED.sub("", text))


#: cells of a sheet that are no field of the form (a project sheet's totals), by the label the sheet shows
SHEET_LABELS = {"score_total": "自评总分", "grade_self": "自评等级"}


def since_last_text(since: dict | None, spec: Mapping[str, Field]) -> str | None:
    """One Chinese line on a resubmission: findings resolved, still open, new; inputs changed
    (named by the labels of the form's fields `spec`, i.e. rubric.fields)."""
    if not since:
        return None

    parts = []
    for key, label in (("resolved", "已解决"), ("still_open", "仍存在"), ("new", "新出现")):
        codes = since.get(key) or []
        if codes:
            parts.append(f"{label}：" + "、".join(f"{CATALOGUE[c][1]}（{c}）" if c in CATALOGUE else c for c in codes))
        if key == "resolved" and since.get("replies_resolved"):
            parts.append("已答复且不再出现的问题：" + "、".join(_replied(x) for x in since["replies_resolved"]))
    changed = since.get("changed_fields") or {}
    if changed:
        items = [f"{spec[k].label if k in spec else SHEET_LABELS.get(k, k)} {_show(old)} → {_show(new)}"
                 for k, (old, new) in changed.items()]
        parts.append("改动的数据：" + "；".join(items))
    return "；".join(parts) if parts else "重新报送，问题与数据均无变化"


def _replied(item: dict) -> str:
    """A reply whose finding is gone: the finding's name, code and cell, and the reply's start."""
    code = str(item.get("code"))
    where = "!".join(str(p) for p in (item.get("sheet"), item.get("cell")) if p)
    reply = " ".join(clean(item.get("reply") or "").split())
    reply = reply if len(reply) <= REPLY_SHOWN else reply[:REPLY_SHOWN] + "…"
    name = CATALOGUE[code][1] if code in CATALOGUE else code
    return f"{name}（{code}{'，' + where if where else ''}，单位答复“{reply}”）"


def _show(value: object) -> str:
    if value is None:
        return "（空）"
    text = str(value)
    return text if len(text) <= 20 else text[:20] + "…"
