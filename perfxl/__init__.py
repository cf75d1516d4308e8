"""perfxl — 部门整体支出绩效自评的批量复核工具."""

__version__ = "0.1.0"

#: Template format version written to `_meta` (major.minor); a different major is
#: `template-mismatch`.
FORMAT_VERSION = "1.0"
