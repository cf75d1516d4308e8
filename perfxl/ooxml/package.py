"""The unit's package as parts, and the string-level primitives every edit uses (spec §8).

`_Package` reads parts from the unit's .xlsx/.xlsm zip, resolves and appends relationships,
records which parts are changed, added or removed, and writes the result back: unchanged members
are copied as stored (compressed bytes and all) and only changed or new parts are deflated, at
level 1, with a fixed timestamp for new ones; a zip the raw copier cannot follow is rewritten
through zipfile instead. Alongside it live the tag helpers shared by the other `ooxml_*` modules
(attribute get/set on a start tag, the document's namespace prefix, `xstring` for cell and comment
text) and `Unsupported`, which any of them raises for what they do not understand so the caller
writes a values-only copy instead.
"""

from __future__ import annotations

import functools
import io
import posixpath
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from defusedxml import ElementTree

from perfxl.ooxml.refs import NS_PKG_REL, NS_REL

FIXED_TIME = (1980, 1, 1, 0, 0, 0)

_Q = r"""(?:[^>"']|"[^"]*"|'[^']*')*?"""  # the inside of a tag, quotes respected
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")


class Unsupported(Exception):
    """A package (or part) this patcher does not edit; the caller writes a values copy."""


def xstring(text: str) -> str:
    """Text for a cell or comment (ST_Xstring): control characters and literal `_xHHHH_`
    escaped the way Excel reads them, then XML-escaped."""
    return escape(_ILLEGAL.sub(lambda m: "_x005F_" if m[0] == "_" else f"_x{ord(m[0]):04X}_", text))


@functools.lru_cache(maxsize=64)
def _attr_re(name: str) -> re.Pattern:
    return re.compile(rf"""\s{re.escape(name)}\s*=\s*(?:"([^"]*)"|'([^']*)')""")


@functools.lru_cache(maxsize=64)
def _tag_re(prefix: str, local: str) -> re.Pattern:
    """A start tag `<prefix:local …>` or `<prefix:local …/>`; group 1: "/" when empty."""
    return re.compile(rf"<{re.escape(prefix)}{local}\b{_Q}(/?)>")


@functools.lru_cache(maxsize=64)
def _plain_tag_re(prefix: str, local: str) -> re.Pattern:
    """Like _tag_re for elements whose attributes are all numbers, references or flags (row, c,
    xf): no attribute value can hold a ">", so the faster pattern is exact."""
    return re.compile(rf"<{re.escape(prefix)}{local}\b[^>]*?(/?)>")


def _attr(tag: str, name: str) -> str | None:
    m = _attr_re(name).search(tag)
    if not m:
        return None
    return m[1] if m[1] is not None else m[2]


def _set_attr(tag: str, name: str, value: str | None) -> str:
    """A start tag with attribute `name` set to `value` (None: removed)."""
    pat = _attr_re(name)
    if value is None:
        return pat.sub("", tag, count=1)
    new = f' {name}="{escape(value, {chr(34): "&quot;"})}"'
    if pat.search(tag):
        return pat.sub(lambda _: new, tag, count=1)
    end = len(tag) - (2 if tag.endswith("/>") else 1)
    return tag[:end].rstrip() + new + tag[end:]


def _prefix(text: str, local: str) -> str:
    m = re.search(rf"<([\w.-]+:)?{local}\b", text)
    if not m:
        raise Unsupported(f"no <{local}>")
    return m[1] or ""


def _rel_prefix(text: str) -> str | None:
    m = re.search(rf"""xmlns:([\w.-]+)\s*=\s*["']{re.escape(NS_REL)}["']""", text)
    return m[1] if m else None


def _rels_path(part: str) -> str:
    d, b = posixpath.split(part)
    return posixpath.join(d, "_rels", b + ".rels")


def _relative(src_part: str, target: str) -> str:
    return posixpath.relpath(target, posixpath.dirname(src_part) or ".")


@dataclass
class _Rel:
    id: str
    type: str
    target: str  # absolute part name, or the raw target for external links
    external: bool = False


@dataclass
class _Package:
    data: bytes
    zin: zipfile.ZipFile
    changed: dict[str, bytes] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    added: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names = {i.filename for i in self.zin.infolist()}
        self.folded = {n.casefold() for n in self.names}

    def has(self, name: str) -> bool:
        return (name in self.names or name in self.changed) and name not in self.removed

    def raw(self, name: str) -> bytes:
        return self.changed[name] if name in self.changed else self.zin.read(name)

    def text(self, name: str) -> str:
        data = self.raw(name)
        if b"<!" in data:  # DTDs, comments, CDATA: not in parts we edit; intake rejects DTDs
            raise Unsupported(f"{name}: markup declarations")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Unsupported(f"{name}: not UTF-8") from exc

    def put(self, name: str, text: str | bytes) -> None:
        if not self.has(name) and name not in self.added:
            self.added.append(name)
        self.changed[name] = text.encode("utf-8") if isinstance(text, str) else text

    def free(self, pattern: str) -> str:
        """The first unused part name `pattern % n`, n ≥ 1 (part names are case-insensitive)."""
        n = 1
        while (pattern % n).casefold() in self.folded or pattern % n in self.added:
            n += 1
        return pattern % n

    def rels(self, part: str) -> list[_Rel]:
        path = _rels_path(part)
        if not self.has(path):
            return []
        out = []
        for el in ElementTree.fromstring(self.raw(path)):
            target, external = el.get("Target", ""), el.get("TargetMode") == "External"
            if not external:
                target = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                    posixpath.join(posixpath.dirname(part), target))
            out.append(_Rel(el.get("Id", ""), el.get("Type", ""), target, external))
        return out

    def add_rels(self, part: str, rels: list[tuple[str, str]]) -> list[str]:
        """Append relationships (type, target part) to part's rels; returns their ids."""
        path = _rels_path(part)
        used = {r.id for r in self.rels(part)}
        ids, xml = [], []
        n = 1
        for rtype, target in rels:
            while f"rId{n}" in used:
                n += 1
            used.add(f"rId{n}")
            ids.append(f"rId{n}")
            xml.append(f'<Relationship Id="rId{n}" Type="{rtype}" Target={quoteattr(_relative(part, target))}/>')
        if self.has(path):
            text = self.text(path)
            p = _prefix(text, "Relationships")
            end = text.rfind(f"</{p}Relationships>")
            if end < 0:
                text = re.sub(r"/>\s*$", ">", text.rstrip()) + f"</{p}Relationships>"
                end = text.rfind(f"</{p}Relationships>")
            if p:
                xml = [x.replace("<Relationship ", f"<{p}Relationship ") for x in xml]
            self.put(path, text[:end] + "".join(xml) + text[end:])
        else:
            self.put(path, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                     f'<Relationships xmlns="{NS_PKG_REL}">{"".join(xml)}</Relationships>')
        return ids

    def write(self) -> bytes:
        """Original parts in their order (changed ones replaced), then the new parts. Unchanged
        parts are copied as stored, compressed bytes and all; a zip this cannot follow is
        rewritten through zipfile instead (same content, recompressed)."""
        try:
            return self._copy_raw()
        except Unsupported:
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
                for info in self.zin.infolist():
                    name = info.filename
                    if name in self.removed or name.endswith("/"):
                        continue
                    data = self.changed[name] if name in self.changed else self.zin.read(info)
                    zout.writestr(zipfile.ZipInfo(name, info.date_time), data, zipfile.ZIP_DEFLATED)
                for name in self.added:
                    zout.writestr(zipfile.ZipInfo(name, FIXED_TIME), self.changed[name], zipfile.ZIP_DEFLATED)
            return out.getvalue()

    def _copy_raw(self) -> bytes:
        src, infos = self.data, self.zin.infolist()
        eocd = src.rfind(b"PK\x05\x06", max(0, len(src) - 65557))
        if eocd < 0 or len(src) < eocd + 22:
            raise Unsupported("no end of central directory")
        entries, cd_size, cd_off = struct.unpack("<HII", src[eocd + 10:eocd + 20])
        if entries != len(infos) or cd_off + cd_size > eocd or 0xFFFFFFFF in (cd_size, cd_off):
            raise Unsupported("zip64 or prefixed archive")
        out, central, count, pos = bytearray(), bytearray(), 0, cd_off
        for info in infos:
            rec = src[pos:pos + 46]
            if rec[:4] != b"PK\x01\x02":
                raise Unsupported("central directory")
            n, m, k = struct.unpack("<HHH", rec[28:34])
            (local,) = struct.unpack("<I", rec[42:46])
            record, pos = bytearray(src[pos:pos + 46 + n + m + k]), pos + 46 + n + m + k
            name = info.filename
            if name in self.removed or name.endswith("/"):
                continue
            if name in self.changed:
                self._entry(out, central, name, self.changed[name], info.date_time)
            else:
                if local != info.header_offset or src[local:local + 4] != b"PK\x03\x04" or local == 0xFFFFFFFF:
                    raise Unsupported("local header")
                ln, lm = struct.unpack("<HH", src[local + 26:local + 30])
                end = local + 30 + ln + lm + info.compress_size
                if info.flag_bits & 0x08:  # a data descriptor follows the data
                    end += 16 if src[end:end + 4] == b"PK\x07\x08" else 12
                if end > cd_off:
                    raise Unsupported("member overruns the central directory")
                record[42:46] = struct.pack("<I", len(out))
                out += src[local:end]
                central += record
            count += 1
        for name in self.added:
            self._entry(out, central, name, self.changed[name], FIXED_TIME)
            count += 1
        if count > 0xFFFF or len(out) > 0xFFFFFFFF:
            raise Unsupported("too large for a plain zip")
        return bytes(out + central + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, count, count, len(central),
                                                   len(out), 0))

    @staticmethod
    def _entry(out: bytearray, central: bytearray, name: str, data: bytes, when: tuple) -> None:
        """One deflated member: local header and data into `out`, its record into `central`."""
        comp = zlib.compressobj(1, zlib.DEFLATED, -15)  # speed: parts are small
        packed = comp.compress(data) + comp.flush()
        raw_name = name.encode("utf-8")
        flags = 0 if raw_name.isascii() else 0x800
        y, mo, d, h, mi, sec = when
        dos_time, dos_date = h << 11 | mi << 5 | sec // 2, (y - 1980) << 9 | mo << 5 | d
        crc = zlib.crc32(data)
        common = struct.pack("<HHHHHIIIH", 20, flags, 8, dos_time, dos_date, crc, len(packed), len(data),
                             len(raw_name))
        central += b"PK\x01\x02" + struct.pack("<H", 20) + common + struct.pack("<HHHHII", 0, 0, 0, 0, 0, len(out))
        central += raw_name
        out += b"PK\x03\x04" + common + struct.pack("<H", 0) + raw_name + packed
