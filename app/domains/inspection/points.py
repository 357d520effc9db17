"""Inspection points and routes: QR payloads, the label sheet (PDF), a route's points in order.

A point's QR code carries ``EFP:<community code>:<point code>``: the check-in page knows from the
code alone whether it belongs to another community. The label sheet reuses reportlab (as the
fee receipts do): 3 × 4 labels per A4 page with the QR code, the code, name and location.
"""
from __future__ import annotations

import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.estate.models import Building, Community
from app.domains.inspection.errors import InspectionError
from app.domains.inspection.models import InspectionPoint, InspectionRoute

QR_PREFIX = "EFP"
KINDS = {
    "fire_hydrant": {"zh": "消火栓", "en": "Fire hydrant"},
    "extinguisher": {"zh": "灭火器箱", "en": "Extinguisher cabinet"},
    "fire_lane": {"zh": "消防通道", "en": "Fire lane"},
    "lift_room": {"zh": "电梯机房", "en": "Lift machine room"},
    "pump_room": {"zh": "水泵房", "en": "Pump room"},
    "electrical_room": {"zh": "配电室", "en": "Electrical room"},
    "roof": {"zh": "屋面", "en": "Roof"},
    "gate": {"zh": "大门/道闸", "en": "Gate"},
    "shared_facility": {"zh": "公共设施", "en": "Shared facility"},
}


def kind_label(kind: str, locale: str) -> str:
    label = KINDS.get(kind)
    return (label.get(locale[:2]) or label["zh"]) if label else kind


def qr_payload(community_code: str, point_code: str) -> str:
    return f"{QR_PREFIX}:{community_code}:{point_code}"


def parse_code(text: str) -> tuple[str | None, str]:
    """``(community code or None, point code)`` from a scanned payload or a typed code."""
    text = (text or "").strip()
    parts = text.split(":")
    if len(parts) == 3 and parts[0].upper() == QR_PREFIX:
        return parts[1].strip(), parts[2].strip()
    return None, text


def find_point(session: Session, community_id: int, text: str) -> InspectionPoint:
    """The point of this community a scanned or typed code names, or an ``InspectionError``."""
    community_code, code = parse_code(text)
    if not code:
        raise InspectionError("unknown_point", code=text or "")
    community = session.get(Community, community_id)
    if community_code is not None and community_code != community.code:
        other = session.scalar(select(Community).where(Community.code == community_code))
        if other is not None:
            raise InspectionError("other_community", community=other.name)
        raise InspectionError("unknown_point", code=text)
    point = session.scalar(select(InspectionPoint).where(
        InspectionPoint.community_id == community_id, InspectionPoint.code == code))
    if point is None:
        raise InspectionError("unknown_point", code=code)
    return point


def route_points(session: Session, route: InspectionRoute) -> list[InspectionPoint]:
    """The route's points in walking order; ``InspectionError('bad_route')`` for unknown codes."""
    codes = route.point_codes.split()
    if not codes:
        raise InspectionError("bad_route", detail="—")
    found = {p.code: p for p in session.scalars(select(InspectionPoint).where(
        InspectionPoint.community_id == route.community_id, InspectionPoint.code.in_(codes)))}
    missing = [c for c in codes if c not in found]
    if missing:
        raise InspectionError("bad_route", detail=", ".join(missing))
    if len(set(codes)) != len(codes):
        raise InspectionError("bad_route", detail="duplicate code")
    return [found[c] for c in codes]


def points_of(session: Session, community_ids: list[int]) -> list[InspectionPoint]:
    return list(session.scalars(select(InspectionPoint).where(InspectionPoint.community_id.in_(community_ids))
                                .order_by(InspectionPoint.community_id, InspectionPoint.code)))


def label_sheet_pdf(session: Session, points: list[InspectionPoint]) -> bytes:
    """A4 pages of QR labels (3 across, 4 down), one per point."""
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    font = "STSong-Light"
    communities = {c.id: c for c in session.scalars(select(Community).where(
        Community.id.in_({p.community_id for p in points})))} if points else {}
    buildings = {b.id: b for b in session.scalars(select(Building).where(
        Building.id.in_({p.building_id for p in points if p.building_id})))} if points else {}
    buf = io.BytesIO()
    width, height = A4
    c = canvas.Canvas(buf, pagesize=A4)
    c.setTitle("巡查点位二维码 Inspection point labels")
    cols, rows = 3, 4
    cell_w, cell_h = (width - 20 * mm) / cols, (height - 20 * mm) / rows
    if not points:
        c.setFont(font, 12)
        c.drawString(20 * mm, height - 30 * mm, "没有巡查点位 No inspection points")
    for i, point in enumerate(points):
        if i and i % (cols * rows) == 0:
            c.showPage()
        slot = i % (cols * rows)
        x0 = 10 * mm + (slot % cols) * cell_w
        y0 = height - 10 * mm - (slot // cols + 1) * cell_h
        c.setDash(2, 2)
        c.rect(x0 + 2 * mm, y0 + 2 * mm, cell_w - 4 * mm, cell_h - 4 * mm)
        c.setDash()
        community = communities[point.community_id]
        widget = QrCodeWidget(qr_payload(community.code, point.code))
        x1, y1, x2, y2 = widget.getBounds()
        size = 38 * mm
        drawing = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
        drawing.add(widget)
        renderPDF.draw(drawing, c, x0 + (cell_w - size) / 2, y0 + cell_h - size - 8 * mm)
        c.setFont(font, 11)
        c.drawCentredString(x0 + cell_w / 2, y0 + 24 * mm, point.code)
        c.setFont(font, 9)
        c.drawCentredString(x0 + cell_w / 2, y0 + 18 * mm, point.name[:20])
        where = " ".join(filter(None, [buildings[point.building_id].name if point.building_id in buildings else "",
                                      point.location]))[:26]
        c.drawCentredString(x0 + cell_w / 2, y0 + 13 * mm, where)
        c.setFont(font, 7)
        c.drawCentredString(x0 + cell_w / 2, y0 + 8 * mm, f"{community.name} · 巡查点位 · 请勿撕毁")
    c.save()
    return buf.getvalue()
