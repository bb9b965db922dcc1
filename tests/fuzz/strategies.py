"""Hypothesis strategies for the inputs Python reads too leniently, and for putting them into requests.

``odd_numbers()`` writes numbers the way ``str.isdigit``, ``int`` and ``Decimal`` accept but a wire format
must not (or accept but choke on): superscripts, Arabic-Indic, Devanagari and fullwidth digits, underscores,
digit strings over ``int``'s 4,300-digit limit, repeated or stray signs, Unicode blanks. ``with_odd_number``
replaces one leaf of a generated query, path or body with one of them (the fuzzers' hooks).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉"
ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"
EXTENDED_ARABIC_INDIC = "۰۱۲۳۴۵۶۷۸۹"
DEVANAGARI = "०१२३४५६७८९"
FULLWIDTH = "０１２３４５６７８９"
CIRCLED = "①②③④⑤⑥⑦⑧⑨"
UNICODE_DIGITS = SUPERSCRIPTS + SUBSCRIPTS + ARABIC_INDIC + EXTENDED_ARABIC_INDIC + DEVANAGARI + FULLWIDTH + CIRCLED
ASCII_DIGITS = "0123456789"
# Blanks Python's str.strip() removes but a number never carries: no-break, ideographic, em spaces, NEL.
UNICODE_BLANKS = "\u00a0\u3000\u2003\u0085\u200b"

_ascii = st.text(alphabet=ASCII_DIGITS, min_size=1, max_size=12)


def odd_numbers() -> st.SearchStrategy[str]:
    """Number-like strings a strict reader must refuse (plus a few it must accept: plain, signed, blanks)."""
    unicode_only = st.text(alphabet=UNICODE_DIGITS, min_size=1, max_size=8)
    mixed = st.tuples(_ascii, st.text(alphabet=UNICODE_DIGITS, min_size=1, max_size=3), _ascii).map("".join)
    any_unicode_digit = st.text(
        alphabet=st.characters(categories=("Nd", "No"), exclude_characters=ASCII_DIGITS), min_size=1, max_size=6
    )
    underscores = st.lists(_ascii, min_size=2, max_size=4).map("_".join)
    huge = st.integers(min_value=21, max_value=6000).map(lambda n: "9" * n)
    signed = st.tuples(st.sampled_from(["+", "-", "--", "+-", "-+", "−", "＋"]), _ascii).map("".join)
    blanks = st.tuples(
        st.sampled_from([" ", "\t", "\n", *UNICODE_BLANKS]), _ascii, st.sampled_from(["", " ", *UNICODE_BLANKS])
    ).map("".join)
    decimals = st.sampled_from(["٣.٥", "１.５", "1,5", "1.000,50", "1e5", "1E-3", "0x10", "0b1", "1.", ".5", "1__0"])
    return st.one_of(unicode_only, mixed, any_unicode_digit, underscores, huge, signed, blanks, decimals)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [leaf for key, child in value.items() for leaf in _leaves(child, (*path, key))] or [path]
    if isinstance(value, list):
        return [leaf for index, child in enumerate(value) for leaf in _leaves(child, (*path, index))] or [path]
    return [path]


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


def with_odd_number(value: Any, *, keep: int = 2) -> st.SearchStrategy[Any]:
    """``value`` as it is (``keep`` times in ``keep + 1``), or with one leaf replaced by ``odd_numbers()``."""
    leaves = [path for path in _leaves(value) if path] if isinstance(value, dict | list) else []
    if not leaves:
        return st.just(value)
    replaced = st.tuples(st.sampled_from(leaves), odd_numbers()).map(lambda pair: _replace(value, *pair))
    return st.integers(min_value=0, max_value=keep).flatmap(lambda k: st.just(value) if k else replaced)
