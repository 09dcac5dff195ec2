"""The illness-wave chart, drawn on the server as SVG: one line per region (or town) over
the days asked, a suppressed point (under 5 pupils) a gap in its line.

Two drawings of the same lines: a wide one for desktops and a narrow one for phones (the
page shows one by CSS), each with its text at its real size, so neither is shrunk to
illegibility; y ticks at round numbers, x ticks spread over the days. The legend is HTML
below the chart (it wraps on a phone), each line's colour at least 4.5:1 on white.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from html import escape

from notegateway.ops.schemas import DayFigure

# Dark enough for 4.5:1 on white (text contrast, also for the lines), and apart in hue.
COLOURS = ("#005A8C", "#B34700", "#007557", "#A8327E", "#7A5C00", "#6A3D9A", "#B8002E", "#1B1F24")
Lines = dict[str, list[tuple[dt.date, int | None]]]


@dataclass(frozen=True, slots=True)
class Frame:
    width: int
    height: int
    x_ticks: int  # at most this many day labels
    left: int = 44
    right: int = 28  # room for the last day's label
    top: int = 12
    bottom: int = 36


WIDE = Frame(720, 320, 8)
NARROW = Frame(360, 260, 4)


def series(items: list[DayFigure], by: str) -> Lines:
    """The figures as one list of (day, pupils or None) per group, in day order."""
    lines: Lines = {}
    for item in items:
        name = (item.town if by == "town" else item.region) or "без област"
        lines.setdefault(name, []).append((dt.date.fromisoformat(item.date), item.pupils))
    return lines


def colours(lines: Lines) -> dict[str, str]:
    """Each line's colour, in name order (the legend uses the same)."""
    return {name: COLOURS[i % len(COLOURS)] for i, name in enumerate(sorted(lines))}


def _round_step(top: int) -> int:
    """A step of 1, 2 or 5 × 10^n giving 5 or 6 ticks up to `top` (0 included)."""
    raw = max(top / 5, 1)
    power = 10 ** math.floor(math.log10(raw))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def svg(lines: Lines, title: str, frame: Frame = WIDE, css_class: str = "chart") -> str:
    days = sorted({day for points in lines.values() for day, _ in points})
    highest = max([p or 0 for points in lines.values() for _, p in points] + [5])
    step = _round_step(highest)
    top = step * math.ceil(highest / step)
    span = max(len(days) - 1, 1)
    inner_w = frame.width - frame.left - frame.right
    inner_h = frame.height - frame.top - frame.bottom
    index = {day: i for i, day in enumerate(days)}

    def x(day: dt.date) -> float:
        return frame.left + inner_w * index[day] / span

    def y(value: int) -> float:
        return frame.top + inner_h * (1 - value / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {frame.width} {frame.height}" '
        f'role="img" aria-label="{escape(title)}" class="{css_class}" font-size="12" '
        'font-family="system-ui, sans-serif">',
    ]
    for tick in range(0, top + 1, step):
        parts.append(
            f'<line x1="{frame.left}" y1="{y(tick):.1f}" x2="{frame.width - frame.right}" '
            f'y2="{y(tick):.1f}" stroke="{"#6b7280" if tick == 0 else "#e5e7eb"}"/>'
            f'<text x="{frame.left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" '
            f'fill="#1b1f24">{tick}</text>'
        )
    if days:
        every = max(math.ceil(len(days) / frame.x_ticks), 1)
        for day in days[::every]:
            parts.append(
                f'<line x1="{x(day):.1f}" y1="{frame.height - frame.bottom}" x2="{x(day):.1f}" '
                f'y2="{frame.height - frame.bottom + 4}" stroke="#6b7280"/>'
                f'<text x="{x(day):.1f}" y="{frame.height - frame.bottom + 18}" '
                f'text-anchor="middle" fill="#1b1f24">{day:%d.%m}</text>'
            )
    for name, colour in colours(lines).items():
        path, pen_down = [], False
        for day, value in lines[name]:
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
    parts.append("</svg>")
    return "".join(parts)


def swatch(colour: str) -> str:
    """The legend's sample of a line (SVG: the page's CSP allows no inline styles)."""
    return (
        f'<svg width="28" height="10" aria-hidden="true"><line x1="0" y1="5" x2="28" y2="5" '
        f'stroke="{colour}" stroke-width="4"/></svg>'
    )
