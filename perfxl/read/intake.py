"""Find the returned files in a folder, tell their format by content, guard against hostile ones.

Nothing here opens a file for writing. Format is decided by the bytes, never by the extension
(units rename .xls to .xlsx, export HTML as "Excel", send WPS .et files).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from perfxl.model import Limits
from perfxl.ooxml.refs import col_index, col_letters
from perfxl.read.package import PACKAGE_PARTS

DEFAULT_LIMITS = Limits()  # frozen, so one shared value is safe

SPREADSHEET_EXTS = frozenset({".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".et", ".ett", ".xltx"})
PARTIAL_EXTS = frozenset({".crdownload", ".part", ".download", ".tmp", ".partial"})
SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", ".ds_store"})

MIB = 1024 * 1024


@dataclass(frozen=True)
class Candidate:
    """One entry found in the input folder: a file, or a folder or link that is listed, not read.

    `rel` is always valid UTF-8 (undecodable bytes of a name shown as U+FFFD), so it can be
    printed and written anywhere; `path` still opens the file; `key` tells apart names that
    differ only in such bytes (see `name_key`)."""

    path: Path
    rel: str  # POSIX path relative to the input folder, for people
    ignore: str | None = None  # why it is not a submission (None: process it)
    companion: bool = False  # a non-spreadsheet file (not-a-spreadsheet)
    key: str = ""  # identity of the name (cache keys); derived from `rel` as given when empty

    def __post_init__(self) -> None:
        # frozen: set the derived fields once, here, so that every constructor gets them
        if not self.key:
            object.__setattr__(self, "key", name_key(self.rel))
        object.__setattr__(self, "rel", shown_name(self.rel))


def _name_bytes(name: str) -> bytes:
    """A name's bytes as the file system has them (undecodable bytes come back as surrogates)."""
    try:
        return os.fsencode(name)
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte (Windows names)
        return name.encode("utf-8", "surrogatepass")


def shown_name(name: str) -> str:
    """A name as people see it: valid UTF-8, undecodable bytes as U+FFFD (a GBK name from a
    Windows zip unpacked on Linux stays visible, if unreadable, instead of stopping the run)."""
    return _name_bytes(name).decode("utf-8", "replace")


def name_key(name: str) -> str:
    """A name's identity, exact to the byte: the name itself when it is valid UTF-8, else NUL
    (which no file name contains) and the hex of its bytes, so two names shown alike differ."""
    raw = _name_bytes(name)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "\0" + raw.hex()


def source_path(folder: Path, key: str) -> Path:
    """The path below `folder` of the entry whose `Candidate.key` is `key` (name_key reversed),
    for code that holds only a result and must open its file again (FileResult.file is `rel`,
    which no longer opens a name that was not valid UTF-8)."""
    rel = os.fsdecode(bytes.fromhex(key[1:])) if key.startswith("\0") else key
    return Path(folder, *rel.split("/"))


def _ignore_reason(name: str) -> tuple[str | None, bool]:
    lower = name.lower()
    ext = os.path.splitext(lower)[1]
    if name.startswith("~$"):
        return "Excel/WPS 打开文件时产生的临时锁定文件", False
    if name.startswith(".~lock.") and name.endswith("#"):
        return "LibreOffice 打开文件时产生的临时锁定文件", False
    if name.startswith("._"):
        return "macOS 生成的附属文件", False
    if lower in SYSTEM_FILES:
        return "系统生成的文件", False
    if name.startswith("."):
        return "隐藏文件", False
    if ext in PARTIAL_EXTS:
        return "未下载完成的文件", False
    if ext not in SPREADSHEET_EXTS:
        return "不是电子表格文件", True
    return None, False


LINK_OUTSIDE = "链接指向输入文件夹以外的位置，出于安全考虑不读取"
LINK_BROKEN = "链接指向的位置不存在或无法解析"
LINK_LOOP = "链接指向它所在的上级文件夹，跟随会无限循环"
LINK_AGAIN = "链接指向的文件夹已经通过另一个链接读取，不再重复读取"
IN_HIDDEN_FOLDER = "隐藏文件夹中的文件"


def _folder_unreadable(rel: str, exc: OSError) -> str:
    why = "没有访问权限" if isinstance(exc, PermissionError) else (exc.strerror or type(exc).__name__)
    return (f"文件夹“{shown_name(rel)}”无法打开（{why}），其中的文件都未能读取"
            "（请检查该文件夹的访问权限后重新运行）")


def _inside(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip(os.sep) + os.sep)


def _is_link(entry: os.DirEntry) -> bool:
    # a Windows junction is a link too (os.DirEntry.is_junction: Python 3.12+)
    return entry.is_symlink() or getattr(entry, "is_junction", lambda: False)()


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _link_reason(real: str, top: str, chain: tuple[str, ...], linked: set[str]) -> str | None:
    """Why a link is not followed, or None. A link may point anywhere: only what lies inside the
    input folder is read (spec §11), never the same folder twice through links, never in a loop."""
    if not _inside(real, top):
        return LINK_OUTSIDE
    if not os.path.exists(real):
        return LINK_BROKEN
    if os.path.isdir(real):
        if real in chain:
            return LINK_LOOP
        if real in linked:
            return LINK_AGAIN
    return None


def _entries(path: str) -> list[os.DirEntry]:
    with os.scandir(path) as it:
        return sorted(it, key=lambda e: e.name)


def discover(folder: Path) -> list[Candidate]:
    """Every entry below `folder`, recursively, sorted by relative path (code-point order).

    Nothing is silent (spec §11): a link is followed only while it stays inside the folder, else
    listed as ignored with the reason, as are a link loop, a broken link and a subfolder that
    cannot be opened. The folder itself not opening raises OSError: then no run can start."""
    top = os.path.realpath(folder)
    out: list[Candidate] = []
    linked: set[str] = set()  # real folders already entered through a link
    # folders still to list: (path, rel, real paths of it and the folders above it, hidden)
    stack: list[tuple[str, str, tuple[str, ...], bool]] = [(os.fspath(folder), "", (top,), False)]
    while stack:
        path, rel, chain, hidden = stack.pop()
        try:
            entries = _entries(path)
        except OSError as exc:
            if not rel:
                raise
            out.append(Candidate(Path(path), rel, _folder_unreadable(rel, exc)))
            continue
        folders = []
        for entry in entries:
            name = entry.name
            child = f"{rel}/{name}" if rel else name
            if _is_link(entry):
                real = os.path.realpath(entry.path)
                reason = _link_reason(real, top, chain, linked)
                if reason is not None:
                    out.append(Candidate(Path(entry.path), child, reason))
                    continue
                is_dir = os.path.isdir(real)
                if is_dir:
                    linked.add(real)
            else:
                is_dir = _is_dir(entry)
                real = os.path.join(chain[-1], name)
            if is_dir:
                folders.append((entry.path, child, (*chain, real), hidden or name.startswith(".")))
                continue
            reason, companion = _ignore_reason(name)
            if hidden and reason is None:  # listed, so that nothing is silent, but never read
                reason, companion = IN_HIDDEN_FOLDER, False
            out.append(Candidate(Path(entry.path), child, reason, companion))
        stack.extend(reversed(folders))  # depth first, in name order
    return sorted(out, key=lambda c: (c.rel, c.key))


class Unreadable(Exception):
    """A file that cannot be read; `code` is the finding code, the message says what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


RESAVE = "请用 Excel/WPS 打开后另存为 .xlsx 再报送"


def _sniff_zip(data: bytes, limits: Limits, keep: dict[str, bytes] | None) -> str:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise Unreadable("file-unreadable", f"文件已损坏或不完整（压缩包无法打开），{RESAVE}") from exc
    if len(infos) > limits.members:
        raise Unreadable("file-unsafe", f"文件包含 {len(infos)} 个部件，超过安全上限 {limits.members}")
    total = sum(i.file_size for i in infos)
    if total > limits.uncompressed_bytes:
        raise Unreadable("file-unsafe", f"文件解压后共 {total // MIB} MiB，超过安全上限 "
                         f"{limits.uncompressed_bytes // MIB} MiB，疑似压缩炸弹")
    for info in infos:
        if info.file_size > limits.ratio_member_bytes and info.file_size > limits.ratio * max(info.compress_size, 1):
            raise Unreadable("file-unsafe", f"文件部件 {info.filename} 的压缩比超过 {limits.ratio}:1，疑似压缩炸弹")
    names = {i.filename for i in infos}
    if "mimetype" in names:
        if zf.read("mimetype").startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
            return "ods"
        raise Unreadable("file-unreadable", f"这是 OpenDocument 文档而不是电子表格，{RESAVE}")
    if "xl/workbook.xml" in names:
        _check_prologs(zf, infos, keep)
        _check_extent(zf, limits, keep)
        return "xlsm" if "xl/vbaProject.bin" in names else "xlsx"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "word/document.xml" in names:
        raise Unreadable("file-unreadable", "这是 Word 文档而不是 Excel 工作簿，请报送填好的 Excel 模板")
    raise Unreadable("file-unreadable", f"这是压缩包而不是 Excel 工作簿，请解压后放入或{RESAVE}")


@lru_cache(maxsize=8)
def _far_refs(rows: int, cols: int) -> re.Pattern[bytes]:
    """The only references that can break the limits: a row's r="12345" or a cell's
    r="B12345" with as many digits as the row limit has or more, or a cell's with as many
    column letters as the column limit has or more. Everything else is inside the limits
    without being converted, so a normal sheet costs one C-level scan. The pattern starts
    with the literal `r="` (whatever whitespace precedes it), which keeps the scan fast; a
    foreign attribute ending in r can only cause a needless rejection, never a miss."""
    digits, letters = len(str(rows)), len(col_letters(cols - 1))
    return re.compile(rb'r="([A-Z]{%d,3})([0-9]+)"|r="([A-Z]{0,3})([0-9]{%d,})"' % (letters, digits))


_CHUNK = 1 << 20


def _is_sheet(name: str) -> bool:
    return name.startswith("xl/worksheets/") and name.endswith(".xml")


def _refuse_dtd(name: str, head: bytes) -> None:
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise Unreadable("file-unsafe", f"文件部件 {name} 含有 XML 实体声明（DOCTYPE），"
                         "可能是恶意构造的文件，已拒绝读取；请用 Excel/WPS 打开后另存为 .xlsx 再报送")


def _check_prologs(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], keep: dict[str, bytes] | None = None) -> None:
    """No DTD in any XML part: entity declarations are how billion-laughs and XXE start,
    and a spreadsheet never needs one. (Worksheets are checked while their extent is.)
    The parts read_package parses are kept whole in `keep`, so the reader need not open the
    package again; one that does not inflate whole is left for the reader, which fails on it
    as it always has."""
    for info in infos:
        if info.filename.endswith((".xml", ".rels", ".vml")) and not _is_sheet(info.filename):
            with zf.open(info) as fh:
                head = fh.read(2048)
                _refuse_dtd(info.filename, head)
                if keep is not None and info.filename in PACKAGE_PARTS and zf.getinfo(info.filename) is info:
                    try:
                        keep[info.filename] = head + fh.read()  # at most its declared size, CRC checked
                    except MemoryError:
                        raise
                    except Exception:  # the reader reads the part again and says why
                        keep.pop(info.filename, None)



def _check_extent(zf: zipfile.ZipFile, limits: Limits, keep: dict[str, bytes] | None = None) -> None:
    """Stream every worksheet part, counting real bytes (declared sizes can lie) and the
    largest row and column referenced: one far-corner cell makes readers allocate the whole
    sheet (python-calamine aborts the process on XFD1048576, upstream calamine #693).
    Parts that fit in one chunk are kept in `keep`, so the reader need not inflate them again."""
    total = 0
    for info in zf.infolist():
        if not _is_sheet(info.filename):
            continue
        rows = cols = 0
        tail = b""
        chunks = 0
        with zf.open(info) as fh:
            while chunk := fh.read(_CHUNK):
                if chunks == 0:
                    _refuse_dtd(info.filename, chunk[:2048])
                chunks += 1
                total += len(chunk)
                if total > limits.uncompressed_bytes:
                    raise Unreadable("file-unsafe", f"文件解压后超过 {limits.uncompressed_bytes // MIB} MiB 的安全上限，疑似压缩炸弹")
                buf = tail + chunk
                for wide, wide_row, letters, digits in _far_refs(limits.rows, limits.cols).findall(buf):
                    rows = max(rows, int(wide_row or digits))
                    cols = max(cols, 1 + col_index((wide or letters).decode()) if wide or letters else 0)
                tail = buf[-256:]
                if rows > limits.rows or cols > limits.cols:
                    sheet = info.filename.rsplit("/", 1)[-1]
                    raise Unreadable("file-unsafe", f"工作表部件 {sheet} 的使用范围达到 {rows} 行 × {cols} 列，"
                                     f"超过安全上限 {limits.rows} 行 × {limits.cols} 列；请删除多余的行列后另存再报送")
                if keep is not None and chunks == 1:
                    keep[info.filename] = chunk
        if keep is not None and chunks > 1:
            keep.pop(info.filename, None)


def _sniff_ole(data: bytes) -> str:
    import msoffcrypto  # lazy: only OLE2 files need it

    try:
        office = msoffcrypto.OfficeFile(io.BytesIO(data))
        encrypted = office.is_encrypted()
    except Exception as exc:  # msoffcrypto raises many types on foreign OLE2 files
        if b"E\x00n\x00c\x00r\x00y\x00p\x00t\x00e\x00d\x00P\x00a\x00c\x00k\x00a\x00g\x00e" in data[:65536]:
            encrypted = True
        else:
            raise Unreadable("file-unreadable", f"无法识别的旧版 Office 文件，{RESAVE}") from exc
    if encrypted:
        raise Unreadable("file-encrypted", "文件设置了打开密码，无法读取；请在 Excel/WPS 中取消密码"
                         "（文件 → 信息 → 保护工作簿 → 用密码进行加密，清空密码）后重新报送")
    return "xls"


def sniff(data: bytes, limits: Limits = DEFAULT_LIMITS, keep: dict[str, bytes] | None = None) -> str:
    """The spreadsheet format of some bytes: xlsx, xlsm, xlsb, ods or xls; else Unreadable.
    For OOXML, `keep` receives the worksheet parts inflated by the checks."""
    if len(data) == 0:
        raise Unreadable("file-unreadable", "文件为空（0 字节），请重新报送")
    if len(data) > limits.file_bytes:
        raise Unreadable("file-unsafe", f"文件大小 {len(data) // MIB} MiB 超过安全上限 {limits.file_bytes // MIB} MiB")
    if data.startswith(b"PK"):
        return _sniff_zip(data, limits, keep)
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _sniff_ole(data)
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")) or b"<html" in head[:512]:
        raise Unreadable("file-unreadable", f"这是网页（HTML）文件，只是扩展名为表格，{RESAVE}")
    if head.startswith(b"<?xml"):
        raise Unreadable("file-unreadable", f"这是 XML 文件（可能是“XML 电子表格”格式），{RESAVE}")
    if head.startswith(b"%pdf"):
        raise Unreadable("file-unreadable", "这是 PDF 文件，请报送 Excel 模板本身")
    raise Unreadable("file-unreadable", f"文件不是可识别的电子表格（可能是文本、CSV 或已损坏），{RESAVE}")
