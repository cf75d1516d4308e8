"""perfxl.terminal.clean: nothing that came from a file can drive the terminal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfxl.terminal import clean

FORBIDDEN = {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A))}

#: what units write: CJK, full-width punctuation, ASCII letters, digits and punctuation, spaces
plain = st.text(st.one_of(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    st.sampled_from("，。、；：？！“”‘’（）《》【】—…％０１２３"),
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
))

csi = st.builds(lambda params, final: f"\x1b[{params}{final}",
                st.text(st.sampled_from("0123456789;:<=>?"), max_size=8), st.sampled_from("mHJKABCDfhlsu~@`"))
osc = st.builds(lambda body, end: f"\x1b]{body}{end}",
                st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20), st.sampled_from(["\x07", "\x1b\\"]))
sequence = st.one_of(csi, osc, st.sampled_from(["\x1bc", "\x1b(B", "\x1b7", "\x1b8", "\x9b2J", "\x1bP1$r\x1b\\"]))


#: any text, surrogates included, rich in controls and in the bytes that open sequences
hostile = st.text(st.one_of(st.characters(exclude_categories=()), st.sampled_from(sorted(FORBIDDEN)),
                            st.sampled_from("\x1b[]P\\;0123m")))


@given(hostile)
def test_nothing_that_drives_a_terminal_survives(text):
    out = clean(text)
    assert not FORBIDDEN & set(out)
    assert "\x1b" not in out
    assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in out)
    out.encode("utf-8")  # printable on any UTF-8 console
    assert clean(out) == out


@given(plain)
def test_plain_text_is_unchanged(text):
    assert clean(text) == text


@given(plain, sequence, plain)
def test_a_sequence_goes_whole(before, seq, after):
    # its parameters must not show up as text either ("[31m", "0;title")
    assert clean(before + seq + after) == before + after


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b[31m湛江市统计局\x1b[0m本级", "湛江市统计局本级"),
    ("单位\x1b]0;已被篡改的窗口标题\x07名称", "单位名称"),
    ("\x1b]8;;http://example.com\x1b\\点此\x1b]8;;\x1b\\", "点此"),
    ("报告\u202excod.exe", "报告xcod.exe"),  # right-to-left override: would show "exe.docx"
    ("\u2066隔离\u2069", "隔离"),
    ("第一行\n第二行\t第三栏", "第一行 第二行 第三栏"),
    ("清屏\x1b[2J\x1b[H", "清屏"),
    ("响铃\x07删除\x7f", "响铃删除"),
    ("八位\x9b31m控制", "八位控制"),
    ("单独的\x9d字符保留后文", "单独的字符保留后文"),  # an unterminated 8-bit OSC takes nothing with it
    ("未结束\x1b]0;标题", "未结束"),  # as a terminal would swallow it
    ("张\udcd5\udcc5.xlsx", "张\ufffd\ufffd.xlsx"),  # a name that is not UTF-8
])
def test_examples(raw, shown):
    assert clean(raw) == shown
