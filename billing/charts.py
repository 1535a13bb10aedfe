"""A server-side SVG chart of messages per day by kind, with the day's charges.

Plain SVG (no JavaScript, no CDN): stacked bars for messages, a dotted line for
the charged amount on a second scale. Colours follow the category badges.
"""

from datetime import date, timedelta
from decimal import Decimal
from xml.sax.saxutils import escape

KINDS = [
    ("inbound", "#9aa5b1"),
    ("free_form", "#6cb2eb"),
    ("utility", "#38c172"),
    ("authentication", "#f6993f"),
    ("marketing", "#e3342f"),
]
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 760, 240, 40, 28, 12


def activity_svg(
    *, first: date, last: date, messages: dict, charges: dict, labels: dict, title: str
) -> str:
    """Return an accessible SVG for the days ``first``..``last`` (inclusive)."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    totals = [sum(messages.get(d, {}).values()) for d in days]
    amounts = [
        sum((Decimal(v) for v in charges.get(d, {}).values()), Decimal(0)) for d in days
    ]
    top = max(totals + [1])
    top_amount = max(amounts + [Decimal("0.01")])
    plot_h = HEIGHT - BOTTOM - TOP
    step = (WIDTH - LEFT - 10) / max(len(days), 1)
    bar = max(step * 0.7, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" class="w-100">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - 5}" y2="{HEIGHT - BOTTOM}" stroke="#ccc"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 8}" font-size="10" text-anchor="end" fill="#666">{top}</text>',
        f'<text x="{LEFT - 6}" y="{HEIGHT - BOTTOM}" font-size="10" text-anchor="end" fill="#666">0</text>',
    ]
    points = []
    for i, day in enumerate(days):
        x = LEFT + i * step + (step - bar) / 2
        y = HEIGHT - BOTTOM
        for kind, colour in KINDS:
            n = messages.get(day, {}).get(kind, 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{day:%d/%m} {escape(labels[kind])}: {n}</title></rect>"
            )
        if i % max(len(days) // 10, 1) == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 10}" font-size="10" text-anchor="middle" '
                f'fill="#666">{day.day}</text>'
            )
        cy = HEIGHT - BOTTOM - float(plot_h * amounts[i] / top_amount)
        points.append(f"{x + bar / 2:.1f},{cy:.1f}")
    if any(amounts):
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="#212529" '
            'stroke-width="1.5" stroke-dasharray="4 2"/>'
        )
    parts.append("</svg>")
    return "".join(parts)
