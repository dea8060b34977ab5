"""Charts drawn on the server as SVG: readable without JavaScript and under a strict Content
Security Policy. Geometry is in SVG attributes, colours come from classes of the static
``django_oneclick/admin.css`` (no ``style`` attribute, no script); each shape has a ``<title>`` (the
browser's tooltip) and each chart a text alternative, next to a table of the same figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 720
BARS_WIDTH = 480
BAR_HEIGHT = 18
BAR_GAP = 8
LABEL_WIDTH = 130
VALUE_WIDTH = 70


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    css: str


def _number(value: float) -> str:
    """An SVG coordinate: short and locale-free."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def horizontal_bars(title: str, bars: Sequence[Bar], *, scale_max: float | None = None) -> SafeString:
    """One bar per row, its label on the left and its value as text on the right."""
    top = max((bar.value for bar in bars), default=0)
    scale = scale_max or top or 1
    span = BARS_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = max(len(bars), 1) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    rows = []
    for index, bar in enumerate(bars):
        y = BAR_GAP + index * (BAR_HEIGHT + BAR_GAP)
        length = span * min(bar.value, scale) / scale if scale else 0
        rows.append(
            format_html(
                '<text class="oneclick-label" x="{}" y="{}">{}</text>'
                '<rect class="oneclick-track" x="{}" y="{}" width="{}" height="{}"></rect>'
                '<rect class="oneclick-bar {}" x="{}" y="{}" width="{}" height="{}"><title>{}: {}</title></rect>'
                '<text class="oneclick-value" x="{}" y="{}">{}</text>',
                LABEL_WIDTH - 8,
                _number(y + BAR_HEIGHT * 0.72),
                bar.label,
                LABEL_WIDTH,
                y,
                span,
                BAR_HEIGHT,
                bar.css,
                LABEL_WIDTH,
                y,
                _number(length),
                BAR_HEIGHT,
                bar.label,
                bar.text,
                LABEL_WIDTH + span + 8,
                _number(y + BAR_HEIGHT * 0.72),
                bar.text,
            )
        )
    if not bars:
        rows.append(format_html('<text class="oneclick-empty" x="{}" y="{}">No data yet.</text>', BARS_WIDTH / 2, 22))
    return format_html(
        '<svg class="oneclick-chart oneclick-bars" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="{}"><title>{}</title>{}</svg>',
        BARS_WIDTH,
        height,
        BARS_WIDTH,
        height,
        title,
        title,
        SafeString("".join(rows)),
    )


def stacked_columns(
    title: str, columns: Sequence[tuple[str, Mapping[str, int]]], series: Mapping[str, str]
) -> SafeString:
    """A column per entry (a day), stacked by series (statuses, ``series`` maps each to its label),
    with its total above it and a legend below."""
    height, chart_top, chart_bottom = 230, 20, 180
    tallest = max((sum(values.values()) for _, values in columns), default=0) or 1
    slot = (WIDTH - 40) / max(len(columns), 1)
    width = slot * 0.6
    shapes = [
        format_html(
            '<line class="oneclick-axis" x1="20" y1="{}" x2="{}" y2="{}"></line>',
            chart_bottom,
            WIDTH - 20,
            chart_bottom,
        )
    ]
    for index, (label, values) in enumerate(columns):
        x = 20 + index * slot + (slot - width) / 2
        y = float(chart_bottom)
        for key, name in series.items():
            count = values.get(key, 0)
            if not count:
                continue
            size = (chart_bottom - chart_top) * count / tallest
            y -= size
            shapes.append(
                format_html(
                    '<rect class="oneclick-bar oneclick-fill-{}" x="{}" y="{}" width="{}" height="{}">'
                    "<title>{}, {}: {}</title></rect>",
                    key,
                    _number(x),
                    _number(y),
                    _number(width),
                    _number(size),
                    label,
                    name,
                    count,
                )
            )
        center = _number(x + width / 2)
        total = sum(values.values())
        shapes.append(
            format_html('<text class="oneclick-total" x="{}" y="{}">{}</text>', center, _number(y - 4), total)
        )
        shapes.append(
            format_html('<text class="oneclick-tick" x="{}" y="{}">{}</text>', center, chart_bottom + 16, label)
        )
    legend = format_html_join(
        "",
        '<rect class="oneclick-bar oneclick-fill-{}" x="{}" y="{}" width="10" height="10"></rect>'
        '<text class="oneclick-legend" x="{}" y="{}">{}</text>',
        (
            (key, 20 + index * 112, height - 22, 34 + index * 112, height - 13, name)
            for index, (key, name) in enumerate(series.items())
        ),
    )
    return format_html(
        '<svg class="oneclick-chart oneclick-columns" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="{}"><title>{}</title>{}{}</svg>',
        WIDTH,
        height,
        WIDTH,
        height,
        title,
        title,
        SafeString("".join(shapes)),
        legend,
    )
