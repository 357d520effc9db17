"""A meter's readings as a chart: SVG points for the finding page, a PNG for a work order
(a repair order carries photos; the chart is the evidence the technician needs)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal


def rates(points: list[tuple[datetime, Decimal]]) -> list[tuple[datetime, float]]:
    """Consumption per hour between consecutive cumulative readings."""
    out = []
    for (t0, v0), (t1, v1) in zip(points, points[1:]):
        hours = (t1 - t0).total_seconds() / 3600
        if hours > 0:
            out.append((t1, float(v1 - v0) / hours))
    return out


def svg_chart(points: list[tuple[datetime, float]], width: int = 600, height: int = 180,
              threshold: float | None = None) -> dict:
    """``points`` (polyline), ``threshold_y`` and the scale, for an inline ``<svg>``."""
    if len(points) < 2:
        return {"points": "", "width": width, "height": height, "threshold_y": None, "max": 0}
    top = max([v for _, v in points] + ([threshold] if threshold else [])) or 1.0
    t0, t1 = points[0][0], points[-1][0]
    span = (t1 - t0).total_seconds() or 1.0
    pad = 16

    def y(v: float) -> float:
        return round(height - pad - (height - 2 * pad) * (v / top), 1)

    pts = " ".join(f"{round((t - t0).total_seconds() / span * width, 1)},{y(v)}" for t, v in points)
    return {"points": pts, "width": width, "height": height, "max": round(top, 3),
            "threshold_y": y(threshold) if threshold else None}


def png_chart(points: list[tuple[datetime, float]], threshold: float | None = None) -> bytes:
    from io import BytesIO

    from PIL import Image, ImageDraw

    chart = svg_chart(points, 480, 200, threshold)
    image = Image.new("RGB", (480, 200), "white")
    draw = ImageDraw.Draw(image)
    if chart["threshold_y"] is not None:
        draw.line([(0, chart["threshold_y"]), (480, chart["threshold_y"])], fill=(217, 83, 79), width=2)
    xy = [tuple(float(c) for c in p.split(",")) for p in chart["points"].split()]
    if len(xy) > 1:
        draw.line(xy, fill=(51, 122, 183), width=3)
    buf = BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def bar_chart(days: list[tuple[str, float]], width: int = 600, height: int = 160) -> dict:
    """Bars (x, y, w, h, label) of daily use for an inline ``<svg>``."""
    if not days:
        return {"bars": [], "width": width, "height": height, "max": 0}
    top = max(v for _, v in days) or 1.0
    w = width / len(days)
    bars = [{"x": round(i * w + 1, 1), "w": round(max(w - 2, 1), 1), "h": round((height - 16) * v / top, 1),
             "y": round(height - (height - 16) * v / top, 1), "label": d, "value": round(v, 3)}
            for i, (d, v) in enumerate(days)]
    return {"bars": bars, "width": width, "height": height, "max": round(top, 3)}
