"""The illness-wave chart, drawn on the server as SVG: one line per region (or town) over
the days asked, a suppressed point (under 5 pupils) a gap in its line."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

WIDTH, HEIGHT = 720, 320
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40
# Distinguishable on white and for the common colour blindnesses (Okabe-Ito).
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


def series(items: list[dict[str, Any]], by: str) -> dict[str, list[tuple[dt.date, int | None]]]:
    """The figures as one list of (day, pupils or None) per group, in day order."""
    lines: dict[str, list[tuple[dt.date, int | None]]] = {}
    for item in items:
        name = item[by] or "без област"
        lines.setdefault(name, []).append((dt.date.fromisoformat(item["date"]), item["pupils"]))
    return lines


def svg(lines: dict[str, list[tuple[dt.date, int | None]]], title: str) -> str:
    days = sorted({day for points in lines.values() for day, _ in points})
    top = max([p or 0 for points in lines.values() for _, p in points] + [5])
    span = max(len(days) - 1, 1)

    def x(day: dt.date) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * days.index(day) / span

    def y(value: int) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title" class="chart">'
        f'<title id="chart-title">{escape(title)}</title>',
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" '
        'stroke="#6b7280"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#6b7280"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" font-size="12">{top}</text>',
        f'<text x="{LEFT - 6}" y="{HEIGHT - BOTTOM}" text-anchor="end" font-size="12">0</text>',
    ]
    if days:
        for day in (days[0], days[-1]):
            parts.append(
                f'<text x="{x(day):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'font-size="12">{day:%d.%m}</text>'
            )
    for index, (name, points) in enumerate(sorted(lines.items())):
        colour = COLOURS[index % len(COLOURS)]
        path, pen_down = [], False
        for day, value in points:
            if value is None:  # suppressed: the line breaks here
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{x(day):.1f},{y(value):.1f}")
            pen_down = True
        if path:
            parts.append(
                f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2.5">'
                f"<title>{escape(name)}</title></path>"
            )
        parts.append(
            f'<text x="{LEFT + 8}" y="{TOP + 14 + 16 * index}" font-size="13" '
            f'fill="{colour}">■ {escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
