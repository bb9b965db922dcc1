"""Reading back the PDFs the hub writes: text runs, filled rectangles, and Code 128 decoding of the bars.

Enough of a parser for fpdf2's output (content streams are zlib-compressed; text is ``(...) Tj``; filled
rectangles are ``x y w h re f``) to check that a label says what it should and that its barcode decodes.
"""

from __future__ import annotations

import re
import zlib

from barcode.charsets import code128

_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_TEXT = re.compile(rb"\(((?:\\.|[^\\)])*)\) Tj")
_RECT = re.compile(rb"(-?[\d.]+) (-?[\d.]+) (-?[\d.]+) (-?[\d.]+) re f")


def content_streams(pdf: bytes) -> list[bytes]:
    """Decompressed page content streams (streams that are not zlib data are skipped)."""
    out = []
    for match in _STREAM.finditer(pdf):
        try:
            out.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return out


def page_count(pdf: bytes) -> int:
    """Number of ``/Type /Page`` objects."""
    return len(re.findall(rb"/Type /Page\b", pdf))


def texts(pdf: bytes) -> list[str]:
    """Every text run shown on the pages."""
    runs = []
    for stream in content_streams(pdf):
        for raw in _TEXT.findall(stream):
            text = re.sub(rb"\\(.)", rb"\1", raw)
            runs.append(text.decode("latin-1"))
    return runs


def barcodes(pdf: bytes) -> list[str]:
    """Decode every row of equal-height bars (Code 128) found on the pages."""
    rows: dict[tuple[float, float], list[tuple[float, float]]] = {}
    for stream in content_streams(pdf):
        for x, y, w, h in _RECT.findall(stream):
            rows.setdefault((float(y), float(h)), []).append((float(x), float(w)))
    decoded = []
    for bars in rows.values():
        if len(bars) < 10:  # QR modules and rules, not a barcode
            continue
        bars.sort()
        module = min(w for _, w in bars)
        pattern = ""
        end = bars[0][0]
        for x, w in bars:
            pattern += "0" * round((x - end) / module) + "1" * round(w / module)
            end = x + w
        text = decode_code128(pattern)
        if text is not None:
            decoded.append(text)
    return decoded


def decode_code128(modules: str) -> str | None:
    """Decode a Code 128 module string (code sets B and C, switches between them, checksum verified)."""
    if not modules.endswith("1100011101011"):
        return None
    body = modules[: -len("1100011101011")]
    if len(body) % 11:
        return None
    try:
        values = [code128.CODES.index(body[i : i + 11]) for i in range(0, len(body), 11)]
    except ValueError:
        return None
    *data, check = values
    if sum([data[0]] + [i * v for i, v in enumerate(data[1:], 1)]) % 103 != check:
        return None
    charset = {103: "A", 104: "B", 105: "C"}.get(data[0])
    out = []
    for value in data[1:]:
        if value == 99:
            charset = "C"
        elif value == 100:
            charset = "B"
        elif value == 101:
            charset = "A"
        elif charset == "C":
            out.append(f"{value:02d}")
        elif charset == "B":
            out.append(chr(value + 32))
        else:
            out.append(chr(value + 32) if value < 64 else chr(value - 64))
    return "".join(out)
