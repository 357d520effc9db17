"""Compliance status (零问题小区) per community and the monthly self-inspection report.

Per community and month: runs planned, completed, late, points missed; checklist items
checked and failed; findings opened, rectified on time, overdue, still open. Everything is a
grouped aggregate over the check-in and finding tables (``items_checked`` / ``items_failed``
are stored on each check-in), so the regulator's overview of hundreds of communities is a
handful of queries (see bench/inspection.py for the figures against a naive loop).
The report (with the month's self-inspection plan, ``plans.py``) exports as PDF and Excel with
Chinese headers.
"""
from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Community
from app.domains.inspection.models import InspectionCheckIn, InspectionFinding, InspectionPoint, InspectionRun
from app.domains.inspection.periods import month_bounds, months_back  # noqa: F401 - callers use compliance.*


@dataclass
class Status:
    community_id: int
    community: str
    runs: int = 0
    runs_completed: int = 0
    runs_late: int = 0
    points_missed: int = 0
    checkins: int = 0
    items_checked: int = 0
    items_failed: int = 0
    findings: int = 0
    rectified_on_time: int = 0
    rectified_late: int = 0
    open_findings: int = 0
    overdue_open: int = 0

    @property
    def on_time_rate(self) -> float | None:
        done = self.rectified_on_time + self.rectified_late + self.overdue_open
        return round(100 * self.rectified_on_time / done, 1) if done else None

    @property
    def zero_problem(self) -> bool:
        """No finding still open and none rectified late this month."""
        return self.open_findings == 0 and self.rectified_late == 0 and self.points_missed == 0


def overview(session: Session, community_ids: list[int], period: str | None = None,
             now: datetime | None = None) -> list[Status]:
    """One ``Status`` per community for the month (grouped queries, not a loop)."""
    period, start, end = month_bounds(period)
    now = now or clock.now()
    ids = list(community_ids)
    names = dict(session.execute(select(Community.id, Community.name).where(Community.id.in_(ids))).all())
    out = {cid: Status(cid, names.get(cid, "")) for cid in ids if cid in names}
    r = InspectionRun
    for cid, runs, completed, late in session.execute(
            select(r.community_id, func.count(), func.sum(case((r.status == "completed", 1), else_=0)),
                   func.sum(case((r.late.is_(True), 1), else_=0)))
            .where(r.community_id.in_(ids), r.planned_at >= start, r.planned_at < end)
            .group_by(r.community_id)):
        s = out[cid]
        s.runs, s.runs_completed, s.runs_late = runs, int(completed or 0), int(late or 0)
    for cid, missed in _missed(session, ids, start, end):
        out[cid].points_missed = missed
    c = InspectionCheckIn
    for cid, n, checked, failed in session.execute(
            select(c.community_id, func.count(), func.sum(c.items_checked), func.sum(c.items_failed))
            .where(c.community_id.in_(ids), c.at >= start, c.at < end).group_by(c.community_id)):
        s = out[cid]
        s.checkins, s.items_checked, s.items_failed = n, int(checked or 0), int(failed or 0)
    f = InspectionFinding
    done = f.rectified_at.is_not(None)
    for cid, n, on_time, late, still_open, overdue in session.execute(
            select(f.community_id, func.count(),
                   func.sum(case((and_(done, f.rectified_at <= f.deadline_at), 1), else_=0)),
                   func.sum(case((and_(done, f.rectified_at > f.deadline_at), 1), else_=0)),
                   func.sum(case((f.status != "accepted", 1), else_=0)),
                   func.sum(case((and_(~done, f.deadline_at < now), 1), else_=0)))
            .where(f.community_id.in_(ids), f.opened_at >= start, f.opened_at < end).group_by(f.community_id)):
        s = out[cid]
        s.findings, s.rectified_on_time, s.rectified_late = n, int(on_time or 0), int(late or 0)
        s.open_findings, s.overdue_open = int(still_open or 0), int(overdue or 0)
    return [out[cid] for cid in ids if cid in out]


def _missed(session: Session, ids: list[int], start: datetime, end: datetime):
    """Points missed by the month's finished runs: route points minus check-ins, per community."""
    r, c = InspectionRun, InspectionCheckIn
    finished = (r.community_id.in_(ids), r.planned_at >= start, r.planned_at < end, r.status == "closed")
    checked = dict(session.execute(
        select(r.community_id, func.count(c.id)).join(c, c.run_id == r.id).where(*finished)
        .group_by(r.community_id)).all())
    totals: dict[int, int] = {}
    for cid, point_ids in session.execute(select(r.community_id, r.point_ids).where(*finished)):
        totals[cid] = totals.get(cid, 0) + len(point_ids or [])
    return [(cid, total - checked.get(cid, 0)) for cid, total in totals.items()]


def compliance_overview(session: Session, community_ids: list[int], period: str | None = None) -> list[dict]:
    """For other domains (a dashboard): the month's status per community as plain dicts."""
    return [{**asdict(s), "on_time_rate": s.on_time_rate, "zero_problem": s.zero_problem}
            for s in overview(session, community_ids, period)]


def overview_naive(session: Session, community_ids: list[int], period: str | None = None,
                   now: datetime | None = None) -> list[Status]:
    """The same figures by loading rows through the ORM (the benchmark's baseline)."""
    period, start, end = month_bounds(period)
    now = now or clock.now()
    out = []
    for cid in community_ids:
        community = session.get(Community, cid)
        s = Status(cid, community.name)
        for run in session.scalars(select(InspectionRun).where(InspectionRun.community_id == cid,
                                                               InspectionRun.planned_at >= start,
                                                               InspectionRun.planned_at < end)):
            s.runs += 1
            s.runs_completed += run.status == "completed"
            s.runs_late += bool(run.late)
            if run.status == "closed":
                n = session.scalar(select(func.count()).select_from(InspectionCheckIn)
                                   .where(InspectionCheckIn.run_id == run.id))
                s.points_missed += len(run.point_ids or []) - n
        for ci in session.scalars(select(InspectionCheckIn).where(InspectionCheckIn.community_id == cid,
                                                                  InspectionCheckIn.at >= start,
                                                                  InspectionCheckIn.at < end)):
            s.checkins += 1
            s.items_checked += ci.items_checked
            s.items_failed += ci.items_failed
        for fd in session.scalars(select(InspectionFinding).where(InspectionFinding.community_id == cid,
                                                                  InspectionFinding.opened_at >= start,
                                                                  InspectionFinding.opened_at < end)):
            s.findings += 1
            if fd.rectified_at is not None:
                if fd.rectified_at <= fd.deadline_at:
                    s.rectified_on_time += 1
                else:
                    s.rectified_late += 1
            elif fd.deadline_at < now:
                s.overdue_open += 1
            s.open_findings += fd.status != "accepted"
        out.append(s)
    return out


# --------------------------------------------------------------------------- the monthly report

SUMMARY_HEADERS = [
    ("runs", "计划巡查次数"), ("runs_completed", "完成次数"), ("runs_late", "超时次数"), ("points_missed", "漏检点位"),
    ("checkins", "打卡次数"), ("items_checked", "检查项数"), ("items_failed", "不合格项数"),
    ("findings", "发现问题数"), ("rectified_on_time", "按期整改数"), ("rectified_late", "逾期整改数"),
    ("open_findings", "未验收问题数"), ("overdue_open", "逾期未整改数"),
]


def monthly_report(session: Session, community_id: int, period: str | None = None) -> dict:
    """The month's status, the failures by point and the findings list of one community."""
    period, start, end = month_bounds(period)
    status = overview(session, [community_id], period)[0]
    p, c = InspectionPoint, InspectionCheckIn
    by_point = [
        {"点位编码": code, "点位名称": name, "打卡次数": int(n), "检查项数": int(checked or 0), "不合格项数": int(failed or 0)}
        for code, name, n, checked, failed in session.execute(
            select(p.code, p.name, func.count(c.id), func.sum(c.items_checked), func.sum(c.items_failed))
            .join(c, and_(c.point_id == p.id, c.community_id == community_id, c.at >= start, c.at < end))
            .where(p.community_id == community_id).group_by(p.code, p.name).order_by(p.code))]
    from app.domains.inspection.findings import SEVERITY_LABELS, SOURCE_LABELS, STATUS_LABELS, label
    from app.localtime import local_format

    f = InspectionFinding
    finding_rows = [
        {"整改编号": x.number, "来源": label(SOURCE_LABELS, x.source, "zh"), "问题": x.description,
         "依据条款": x.clause, "严重程度": label(SEVERITY_LABELS, x.severity, "zh"),
         "发现时间": local_format(x.opened_at), "整改期限": local_format(x.deadline_at),
         "整改时间": local_format(x.rectified_at) if x.rectified_at else "",
         "状态": label(STATUS_LABELS, x.status, "zh"),
         "是否按期": ("是" if x.rectified_at <= x.deadline_at else "否") if x.rectified_at else ""}
        for x in session.scalars(select(f).where(f.community_id == community_id, f.opened_at >= start,
                                                 f.opened_at < end).order_by(f.opened_at, f.id).limit(2000))]
    from app.domains.inspection.plans import checklist_rows, plan_status

    plan = plan_status(session, community_id, period)
    known = plan.known
    plan_rows = [{"检查表": row["title"], "检查项数": row["items"], "计划检查次数": row["tally"].due,
                  "已完成": row["tally"].done, "漏检": row["tally"].missed, "待检查": row["tally"].upcoming,
                  "依据条款": "；".join(row["clauses"])} for row in checklist_rows(plan, "zh")]
    return {"period": period, "status": status, "by_point": by_point, "findings": finding_rows,
            "plan": plan, "plan_rows": plan_rows, "not_planned": [known[c].label("zh") for c in plan.not_planned]}


PLAN_HEADERS = ["检查表", "检查项数", "计划检查次数", "已完成", "漏检", "待检查", "依据条款"]


def report_excel(report: dict) -> bytes:
    import pandas as pd

    s = report["status"]
    summary = pd.DataFrame([{"小区": s.community, "月份": report["period"],
                             **{zh: getattr(s, key) for key, zh in SUMMARY_HEADERS},
                             "按期整改率(%)": s.on_time_rate if s.on_time_rate is not None else ""}])
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        summary.to_excel(writer, sheet_name="汇总", index=False)
        pd.DataFrame(report["by_point"], columns=["点位编码", "点位名称", "打卡次数", "检查项数", "不合格项数"]) \
            .to_excel(writer, sheet_name="点位", index=False)
        pd.DataFrame(report["findings"], columns=["整改编号", "来源", "问题", "依据条款", "严重程度", "发现时间",
                                                  "整改期限", "整改时间", "状态", "是否按期"]) \
            .to_excel(writer, sheet_name="问题整改", index=False)
        pd.DataFrame(report["plan_rows"], columns=PLAN_HEADERS).to_excel(writer, sheet_name="自查计划", index=False)
    return buffer.getvalue()


def report_pdf(report: dict) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    font = "STSong-Light"
    s = report["status"]
    buf = io.BytesIO()
    width, height = A4
    c = canvas.Canvas(buf, pagesize=A4)
    c.setTitle(f"{s.community} {report['period']} 巡查自查月报")
    y = height - 20 * mm

    def line(text: str, size: int = 10, step: float = 6) -> None:
        nonlocal y
        if y < 20 * mm:
            c.showPage()
            y = height - 20 * mm
        c.setFont(font, size)
        c.drawString(15 * mm, y, text)
        y -= step * mm

    line(f"{s.community} 巡查自查月报（{report['period']}）", 16, 10)
    line("“零问题小区”自查 Monthly self-inspection report", 9, 8)
    for key, zh in SUMMARY_HEADERS:
        line(f"{zh}：{getattr(s, key)}")
    line(f"按期整改率：{s.on_time_rate if s.on_time_rate is not None else '—'}%", 10, 9)
    plan = report["plan"]
    line(f"本月自查计划（{'已下达' if plan.issued is not None else '草案，按当前路线'}）：计划 {plan.total.due} 次，"
         f"已完成 {plan.total.done}，漏检 {plan.total.missed}，待检查 {plan.total.upcoming}", 12, 8)
    for row in report["plan_rows"]:
        line(f"{row['检查表']}：计划 {row['计划检查次数']}，已完成 {row['已完成']}，漏检 {row['漏检']}，待检查 {row['待检查']}", 9, 5)
        if row["依据条款"]:
            line(f"    依据：{row['依据条款'][:70]}", 8, 5)
    if plan.not_planned:
        line("未列入本月计划的检查表：" + "、".join(report["not_planned"]), 9, 7)
    line("问题整改清单", 12, 8)
    for row in report["findings"][:200]:
        line(f"{row['整改编号']}  {row['严重程度']}  {row['状态']}  期限 {row['整改期限']}  {row['是否按期']}", 9, 5)
        line(f"    {row['问题'][:60]}", 8, 5)
    c.save()
    return buf.getvalue()
