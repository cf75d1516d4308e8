"""Text from a file made safe for a terminal: no escape sequences, no control characters.

Unit names, file names and messages quoting cell values come from the units' files. Printed
raw, `\\x1b]0;…\\x07` retitles the window, `\\x1b[2J` clears the screen, `\\x1b]8;;http://…`
plants a link, and a right-to-left override (U+202E) shows `xslx.exe` as `exe.xlsx`. Every
such sequence is removed whole (so its parameters do not show up as text either); line breaks
and tabs become spaces, since what is printed is one line per item.
"""

from __future__ import annotations

import re

# ECMA-48: CSI (ESC [ or 8-bit 0x9B) parameters, intermediates, one final byte; the string
# commands OSC, DCS, SOS, PM, APC (ESC ] P X ^ _) up to BEL or ST (ESC \ or 0x9C), or to the
# end when unterminated, as a terminal would swallow it; their 8-bit forms (0x9D 0x90 0x98 0x9E
# 0x9F) only when terminated (a stray C1 character alone must not take the rest of a name
# with it; it is removed with the other controls); any other ESC with its intermediates and
# final byte.
_SEQUENCES = re.compile(
    "(?:\x1b\\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    "|\x1b[\\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\\\|\x9c)?"
    "|[\x9d\x90\x98\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\\\|\x9c)"
    "|\x1b[\x20-\x2f]*[\x30-\x7e]?"
)
_SPACES = re.compile("[\t\n\r\x0b\x0c\x85\u2028\u2029]+")
#: C0, DEL, C1; the bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069)
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SURROGATES = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """`text` without escape sequences and control characters, for printing to a terminal."""
    text = _SEQUENCES.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _CONTROLS.sub("", text)
    # a lone surrogate (a name that is not valid UTF-8) cannot be encoded for the console
    return _SURROGATES.sub("\ufffd", text)
