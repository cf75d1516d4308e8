"""Which exceptions of the readers mean a bad file (the unit's to fix) and which a bug of perfxl's.

Only the exceptions listed here become file findings (`file-unreadable`, `file-encrypted`,
`file-unsafe`); any other exception while reading, scoring or checking a file is perfxl's own
failure and becomes `internal-error` (spec §5), so that a unit is never told to fix a file that
is fine and the fuzz test can see a reader bug.
"""

from __future__ import annotations

import lzma
import struct
import zipfile
import zlib
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError

import python_calamine
from defusedxml import DefusedXmlException

from perfxl.read.intake import RESAVE, Unreadable

# python_calamine raises CalamineError for what calamine reports about the bytes: its
# subclasses ZipError and XmlError (a broken package or part), WorksheetNotFound (workbook.xml
# names a sheet whose part is missing) and PasswordError; its other `_ =>` errors (bad CFB/BIFF
# records, bad cell types) are CalamineError itself. These four subclasses only follow misuse
# of its API (perfxl never closes a workbook or reads tables): they are our bugs.
_CALAMINE_MISUSE = (python_calamine.WorkbookClosed, python_calamine.TablesNotLoaded,
                    python_calamine.TablesNotSupported, python_calamine.TableNotFound)

#: decoding the bytes of a package, whoever does it (zipfile, defusedxml, our own scans)
_DECODING = (
    zipfile.BadZipFile,  # bad headers, bad CRC-32, truncated archive
    zlib.error,  # a corrupt deflate stream in a member
    lzma.LZMAError,  # a corrupt LZMA member (zip method 14)
    EOFError,  # zipfile: "Compressed file ended before the end-of-stream marker was reached"
    ParseError,  # defusedxml.ElementTree on malformed XML (a part cut short, stray bytes)
    ExpatError,  # the same from expat used directly (defusedxml's expat builders)
    UnicodeDecodeError,  # a part or a member name (UTF-8 flag) that is not in its declared encoding
)

#: raised by zipfile on bytes it cannot handle, but also by any code for its own reasons: a file
#: problem only when zipfile itself raised it (the innermost Python frame is in zipfile)
_ZIPFILE_ONLY = (
    NotImplementedError,  # "That compression method is not supported", deflate64, strong encryption
    RuntimeError,  # "File … is encrypted, password required for extraction" (a zip-encrypted member)
    ValueError,  # a negative seek or offset computed from a lying header
    struct.error,  # an extra field or header shorter than its declared length
    OverflowError,  # a header size too large for a seek
)


def _raised_in(exc: BaseException, module: str) -> bool:
    """Whether the innermost Python frame of `exc` belongs to `module`."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_globals.get("__name__") == module


def is_panic(exc: BaseException) -> bool:
    """A Rust panic inside python-calamine (pyo3's PanicException, a BaseException)."""
    return type(exc).__name__ == "PanicException"


def is_bad_package(exc: BaseException) -> bool:
    """Whether `exc` says the bytes are not a readable package (zip, XML, encoding, calamine)."""
    if isinstance(exc, _CALAMINE_MISUSE):
        return False
    if isinstance(exc, (python_calamine.CalamineError, DefusedXmlException, *_DECODING)):
        return True
    # calamine reports an I/O error of its in-memory reader (a stream shorter than its header
    # says) as a bare OSError, and so does bz2 for a corrupt member; the bytes are in memory,
    # so only decoding them raises a bare OSError (subclasses such as FileNotFoundError are not)
    if type(exc) is OSError:
        return True
    return isinstance(exc, _ZIPFILE_ONLY) and _raised_in(exc, "zipfile")


def file_problem(exc: BaseException) -> tuple[str, str] | None:
    """(finding code, message) when `exc` is what a reader raises for a bad file; None when it
    is a bug of perfxl's (or MemoryError, which the worker reports as a safety limit)."""
    name = type(exc).__name__
    if isinstance(exc, Unreadable):  # the intake's guards: they say what and why themselves
        return exc.code, exc.message
    if isinstance(exc, python_calamine.PasswordError) or (
            isinstance(exc, RuntimeError) and "password" in str(exc) and _raised_in(exc, "zipfile")):
        return "file-encrypted", "文件设置了密码，无法读取；请取消密码后重新报送"
    if isinstance(exc, DefusedXmlException):  # DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
        return "file-unsafe", f"文件中含有不安全的 XML 实体声明或外部引用，已拒绝读取；{RESAVE}"
    if is_panic(exc):  # a structure calamine cannot handle; re-saving rewrites it
        return "file-unreadable", (f"读取组件无法解析该文件的结构（{name}），{RESAVE}；"
                                   "如另存后仍无法读取，请把此文件反馈给 perfxl 维护人员")
    if is_bad_package(exc):
        return "file-unreadable", f"文件已损坏，无法读取其中的表格（{name}）；{RESAVE}"
    return None


def describe(exc: BaseException, limit: int = 300) -> str:
    """"TypeName: message", cut to `limit` characters (for internal errors and causes)."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
