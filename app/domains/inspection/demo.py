"""Demo: inspection enabled in 怡翠花园 (YC) with its patrol points (QR labels on the points
page), a daily fire-safety route for the guards, a monthly lift route for the technicians, and
yesterday's run, completed with every item compliant (no task is left open by the demo)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.demo.modules import enable_for_demo
from app.domains.estate.models import Building

ORDER = 60

POINTS = [  # code, name, kind, building code, location, checklist
    ("YC-FL-01", "东门消防车通道", "fire_lane", None, "东门至1号楼", "fire_lanes"),
    ("YC-FL-02", "2号楼楼道", "fire_lane", "2", "2号楼一至六层楼梯间", "fire_lanes"),
    ("YC-FH-01", "1号楼消火栓箱", "fire_hydrant", "1", "1号楼一层大堂", "fire_equipment"),
    ("YC-EX-03", "3号楼灭火器箱", "extinguisher", "3", "3号楼一层", "fire_equipment"),
    ("YC-ER-01", "配电室", "electrical_room", None, "4号楼地下一层", "electrical_room"),
    ("YC-SF-01", "中心花园及道闸", "shared_facility", None, "小区中心花园、北门道闸", "shared_facilities"),
    ("YC-LF-01", "3号楼加装电梯", "lift_room", "3", "3号楼加装电梯", "lift"),
]
ANSWERS = {
    "fire_lanes": {"lane_clear": True, "exits_clear": True, "signs_present": True, "photo": [], "remark": ""},
    "fire_equipment": {"extinguishers_present": True, "extinguishers_in_date": True, "hydrant_pressure": "0.32",
                       "hose_complete": True, "photo": []},
    "electrical_room": {"door_locked": True, "no_storage": True, "temperature": "22", "photo": []},
    "shared_facilities": {"lights_working": True, "no_hazard": True, "gate_working": True, "photo": [], "remark": ""},
}


def seed(session: Session) -> None:
    yc, _ = enable_for_demo(session, "inspection")
    if yc is None:
        return
    from app.domains.inspection import runs
    from app.domains.inspection.models import InspectionPoint, InspectionRoute

    if session.scalar(select(InspectionPoint.id).where(InspectionPoint.community_id == yc.id).limit(1)):
        return
    buildings = {b.code: b.id for b in session.scalars(select(Building).where(Building.community_id == yc.id))}
    points = {}
    for code, name, kind, building, location, checklist in POINTS:
        points[code] = InspectionPoint(community_id=yc.id, code=code, name=name, kind=kind, location=location,
                                       building_id=buildings.get(building), checklist=checklist)
        session.add(points[code])
    daily = InspectionRoute(community_id=yc.id, name="日间消防巡查", frequency="daily", shift="day", start_time="09:00",
                            role="guard", point_codes="YC-FL-01 YC-FH-01 YC-FL-02 YC-EX-03 YC-ER-01 YC-SF-01")
    monthly = InspectionRoute(community_id=yc.id, name="月度电梯检查", frequency="monthly", month_day=1, shift="day",
                              start_time="10:00", role="technician", point_codes="YC-LF-01")
    session.add_all([daily, monthly])
    session.flush()
    planned = (clock.now() - timedelta(days=1)).replace(second=0, microsecond=0)
    run = runs.start_run(session, daily, actor="demo", planned_at=planned)
    for i, code in enumerate(daily.point_codes.split()):
        point = points[code]
        runs.check_in(session, run, point, ANSWERS[point.checklist], by="guard_yc",
                      at=planned + timedelta(minutes=8 * (i + 1)))
    session.flush()
