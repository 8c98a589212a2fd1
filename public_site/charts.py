"""Bar charts as inline SVG made on the server: no script, no outside file, nothing the CSP forbids (colours are
SVG attributes, never a style). Each chart is shown beside a table of the same numbers, for screen readers and
for print."""
from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, ROW, LABEL_W, GAP = 640, 28, 230, 6
COLOUR = "#9b1c1c"


def bar_chart(title: str, rows: Sequence[tuple[str, float | None]], *, percent: bool = False) -> Markup:
    """Horizontal bars, one per (label, value); ``percent``: values are shares (0..1) shown as %, on a 100 % scale.
    A value of None (nothing to count) has no bar and reads "—"."""
    values = [v for _, v in rows if v is not None]
    top = 1.0 if percent else max([*values, 0.0]) or 1.0
    bar_w = WIDTH - LABEL_W - 70
    height = ROW * max(len(rows), 1) + GAP
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" '
             f'width="100%" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    if not rows:
        parts.append(f'<text x="0" y="{ROW - 10}" font-size="14" fill="#555">Không có số liệu</text>')
    for i, (label, value) in enumerate(rows):
        y = i * ROW + GAP
        shown = "—" if value is None else (f"{value * 100:.1f}%" if percent else _number(value))
        width = 0.0 if value is None else bar_w * value / top
        parts.append(f'<text x="{LABEL_W - 8}" y="{y + ROW / 2 + 2:.0f}" font-size="14" text-anchor="end" '
                     f'fill="#1b1b1b">{escape(_short(label))}</text>')
        parts.append(f'<rect x="{LABEL_W}" y="{y}" width="{width:.1f}" height="{ROW - 2 * GAP}" fill="{COLOUR}"/>')
        parts.append(f'<text x="{LABEL_W + width + 6:.1f}" y="{y + ROW / 2 + 2:.0f}" font-size="14" '
                     f'fill="#1b1b1b">{escape(shown)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _number(value: float) -> str:
    return f"{value:,.0f}".replace(",", ".") if float(value).is_integer() else f"{value:.1f}"


def _short(label: str, most: int = 30) -> str:
    return label if len(label) <= most else label[:most - 1] + "…"
