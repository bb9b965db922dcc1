"""Charts of the console drawn on the server as inline SVG: no script, no library, no request to anywhere. A
chart scales to its container (``viewBox``), so it reads at 390 px as well as on a desktop."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

from alephee.console.health import Series

WIDTH = 640
HEIGHT = 240
MARGIN_LEFT = 48
MARGIN_RIGHT = 24
MARGIN_TOP = 12
# Room under the plot for the day labels; the legend adds a line per two series.
MARGIN_BOTTOM = 36
LEGEND_LINE = 16
# Line colours, distinguishable for the common colour-vision deficiencies (Okabe-Ito palette).
# Presentation attributes, not style attributes: the console's Content-Security-Policy refuses inline styles.
GRID = 'stroke="#d0d5dd" stroke-width="1"'
TICK = 'font-size="11" fill="#555"'
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def _nice_top(value: float) -> float:
    # The smallest 1/2/5 x 10^n at or above the largest value: round gridline labels.
    if value <= 0:
        return 1.0
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    while magnitude > value:
        magnitude /= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def line_chart(title: str, days: Sequence[date], series: Sequence[Series], *, empty: str, unit: str = "") -> Markup:
    """An SVG line chart of ``series`` (one value per day of ``days``) with a legend; ``empty`` is shown when
    there is nothing to draw. ``title`` names the chart for screen readers."""
    if not series or not days:
        return Markup('<p class="empty">{}</p>').format(empty)
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    top = _nice_top(max((v for s in series for v in s.values if v is not None), default=0.0))
    step = plot_w / max(1, len(days) - 1)

    def x(i: int) -> float:
        return MARGIN_LEFT + i * step

    def y(v: float) -> float:
        return MARGIN_TOP + plot_h - (v / top) * plot_h

    legend_lines = -(-len(series) // 2)
    total_h = HEIGHT + legend_lines * LEGEND_LINE + 8
    parts: list[str] = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {total_h}" width="100%" role="img" '
        'preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        gy = y(top * fraction)
        parts.append(
            f'<line x1="{MARGIN_LEFT}" y1="{gy:.1f}" x2="{WIDTH - MARGIN_RIGHT}" y2="{gy:.1f}" {GRID}/>'
            f'<text x="{MARGIN_LEFT - 4}" y="{gy + 4:.1f}" text-anchor="end" {TICK}>'
            f"{escape(_number(top * fraction))}{escape(unit)}</text>"
        )
    label_every = max(1, len(days) // 6)
    for i, day in enumerate(days):
        if i % label_every == 0 or i == len(days) - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" text-anchor="middle" {TICK}>'
                f"{day.strftime('%d/%m')}</text>"
            )
    for n, line in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        # A gap in the data (None) breaks the line instead of drawing it down to zero.
        segments: list[list[str]] = [[]]
        for i, value in enumerate(line.values):
            if value is None:
                segments.append([])
                continue
            segments[-1].append(f"{x(i):.1f},{y(value):.1f}")
        for points in segments:
            if len(points) == 1:
                cx, cy = points[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>')
            elif points:
                parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(points)}"/>')
        legend_x = MARGIN_LEFT + (n % 2) * (plot_w / 2)
        legend_y = HEIGHT + 8 + (n // 2) * LEGEND_LINE
        parts.append(
            f'<rect x="{legend_x:.1f}" y="{legend_y - 8}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 14:.1f}" y="{legend_y + 1}" font-size="12" fill="#222">{escape(line.name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
