"""Security dashboard figures: incidents in the window, open now, time to acknowledge/close."""
from __future__ import annotations

from datetime import datetime, timedelta

from app.domains.security import kpis
from app.domains.security.models import SecurityIncident
from tests.support.kpi_estate import build_kpi_estate


def test_alerts_overview(session):
    estate = build_kpi_estate(session)
    cid = estate.community.id
    t = datetime(2026, 10, 10, 2, 0)

    def incident(n, first, ack=None, closed=None, status="open", alerts=1):
        return SecurityIncident(number=f"{estate.community.code}-S{n}", community_id=cid, device_code="CAM", kind="fire",
                                first_at=first, last_at=first, alert_count=alerts, status=status,
                                acknowledged_at=first + timedelta(minutes=ack) if ack else None,
                                closed_at=first + timedelta(minutes=closed) if closed else None)

    session.add_all([incident(1, t, ack=4, closed=30, status="closed", alerts=3),
                     incident(2, t + timedelta(days=30), ack=10, status="acknowledged"),
                     incident(3, datetime(2026, 5, 1), ack=1, closed=2, status="closed")])
    session.flush()
    a = kpis.alerts_overview(session, estate.scope())
    assert (a["incidents"], a["alerts"], a["open"]) == (2, 4, 1)
    assert a["median_acknowledge_min"] == 7.0 and a["median_close_min"] == 30.0
    assert [m["incidents"] for m in a["months"]] == [0, 1, 1]
    empty = {f.key: f for f in kpis.alerts_tile(session, estate.scope(until="2026-08")).figures}
    assert empty["incidents"].value == 0
    assert empty["median_close"].value is None and empty["median_close"].empty == "no closed incidents"
    assert empty["incidents"].link == ("SecurityView.index", {"status": "all", "since": "2026-06-01",
                                                              "until": "2026-09-01"})
    from app.domains.security.alerts import list_incidents

    listed = list_incidents(session, [cid], since=datetime(2026, 9, 30, 16), until=datetime(2026, 11, 30, 16))
    assert sorted(i.number for i in listed) == [f"{estate.community.code}-S1", f"{estate.community.code}-S2"]
