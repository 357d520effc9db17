"""A module's schedules per community: the worker's scheduler for real, the Prefect plan computed."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.modules.activation import disable_module, enable_module
from app.modules.catalog import validate_menu_file
from app.modules.schedules import community_schedules, deployment_plan, next_run
from app.platform.scheduler import Scheduler, flow_runner, load_flows
from workflows.deployments import to_pause


@pytest.fixture
def communities(two_communities):
    return two_communities


def _enable(session, catalog, cid, module_id):
    enable_module(session, catalog=catalog, community_id=cid, module_id=module_id, settings={}, actor="admin")
    session.commit()


def test_validation_refuses_a_schedule_of_a_flow_that_does_not_exist(tmp_path):
    menu = tmp_path / "menus" / "patrol.yaml"
    menu.parent.mkdir()
    menu.write_text(
        'id: patrol\nversion: "1.0.0"\ntitle: {zh: 巡更, en: Patrol}\n'
        "description: {zh: 巡更, en: Patrol rounds}\ncategory: inspection\n"
        "schedules:\n"
        '  - {flow: patrol_rounds, cron: "0 * * * *"}\n'
        '  - {flow: late_fees, cron: "61 * * * *"}\n', encoding="utf-8")
    errors = [str(e) for e in validate_menu_file(menu, tmp_path)]
    assert len(errors) == 2
    assert errors[0].startswith("menus/patrol.yaml:7: schedules[0].flow: unknown flow 'patrol_rounds' "
                                "(the flows in workflows/: billing_run, dunning_sweep, ")
    assert "late_fees" in errors[0] and "payment_reconciliation" in errors[0]
    assert errors[1] == "menus/patrol.yaml:8: schedules[1].cron: not a valid cron expression (Bad minute)"


def test_every_shipped_schedule_names_a_flow_the_worker_can_run_per_community(shipped):
    flows = load_flows()
    scheduled = {s.flow for m in shipped.modules.values() for s in m.schedules}
    assert scheduled and scheduled <= set(flows)
    import inspect

    for name in scheduled:
        assert {"communities", "database_url"} <= set(inspect.signature(flows[name]).parameters), name


def test_cron_is_read_in_the_communitys_time_zone():
    # 02:30 in Shanghai is 18:30 UTC the day before
    assert next_run("30 2 * * *", datetime(2026, 12, 1, 16, 0)) == datetime(2026, 12, 1, 18, 30)
    assert next_run("0 2 1 * *", datetime(2026, 12, 1, 16, 0)) == datetime(2026, 12, 31, 18, 0)


def test_worker_runs_a_schedule_for_the_enabled_community_only_and_stops_on_disable(
        session, shipped, communities, db_engine):
    yc, hx = communities
    url = db_engine.url.render_as_string(hide_password=False)
    now = [datetime(2026, 12, 1, 18, 0)]  # 02:00 in Shanghai
    results = []
    real = flow_runner(database_url=url, flows=load_flows())

    def runner(item):
        if item.flow == "late_fees":
            results.append((item.flow, real(item)))

    scheduler = Scheduler(runner, now=lambda: now[0])

    def tick_at(at):
        now[0] = at
        ran = scheduler.tick(session, shipped)
        session.rollback()
        return [(s.flow, s.community_code) for s in ran if s.flow == "late_fees"]  # fees' daily one

    assert tick_at(now[0]) == []  # nothing enabled
    _enable(session, shipped, yc, "fees")
    assert tick_at(now[0]) == []  # first seen: due at the next cron time, no catch-up
    assert tick_at(datetime(2026, 12, 1, 18, 29)) == []
    assert tick_at(datetime(2026, 12, 1, 18, 30)) == [("late_fees", "YC")]  # 02:30 local
    # the real flow ran for YC only: its result is keyed by the communities it worked on
    assert results == [("late_fees", {"YC": {"bills": 0, "added_cents": 0}})]
    assert tick_at(datetime(2026, 12, 1, 18, 31)) == []  # once per cron time
    assert scheduler.due["fees/YC/late_fees"] == datetime(2026, 12, 2, 18, 30)

    disable_module(session, catalog=shipped, community_id=yc, module_id="fees", actor="admin")
    session.commit()
    assert tick_at(datetime(2026, 12, 2, 18, 30)) == []
    assert scheduler.due == {}
    assert len(results) == 1


def test_a_failing_flow_is_logged_and_the_others_still_run(session, shipped, communities, caplog):
    yc, hx = communities
    _enable(session, shipped, yc, "fees")
    _enable(session, shipped, hx, "fees")
    ran = []

    def runner(item):
        if item.flow != "late_fees":
            return
        ran.append(item.key)
        if item.community_code == "HX":
            raise RuntimeError("gateway down")

    now = [datetime(2026, 12, 1, 18, 0)]
    scheduler = Scheduler(runner, now=lambda: now[0])
    scheduler.tick(session, shipped)
    now[0] += timedelta(minutes=31)
    scheduler.tick(session, shipped)
    assert ran == ["fees/HX/late_fees", "fees/YC/late_fees"]
    assert "schedule fees/HX/late_fees failed" in caplog.text


def test_the_prefect_plan_has_one_deployment_per_module_community_and_flow(session, shipped, communities):
    yc, hx = communities
    _enable(session, shipped, yc, "fees")
    _enable(session, shipped, hx, "fees")
    disable_module(session, catalog=shipped, community_id=hx, module_id="fees", actor="admin")
    session.commit()
    plan = {(p.name, p.flow, p.cron, p.paused): p for p in deployment_plan(session, shipped)}
    assert sorted(plan) == [
        ("fees-hx-billing_run", "billing_run", "0 2 1 * *", True),
        ("fees-hx-late_fees", "late_fees", "30 2 * * *", True),
        ("fees-hx-payment_reconciliation", "payment_reconciliation", "*/5 * * * *", True),
        ("fees-hx-payment_statement", "payment_statement", "0 10 * * *", True),
        ("fees-yc-billing_run", "billing_run", "0 2 1 * *", False),
        ("fees-yc-late_fees", "late_fees", "30 2 * * *", False),
        ("fees-yc-payment_reconciliation", "payment_reconciliation", "*/5 * * * *", False),
        ("fees-yc-payment_statement", "payment_statement", "0 10 * * *", False),
    ]
    spec = plan[("fees-yc-late_fees", "late_fees", "30 2 * * *", False)]
    assert spec.parameters == {"communities": ["YC"]}
    assert spec.timezone == "Asia/Shanghai"
    assert spec.tags == ("estateflow-schedule", "module:fees", "community:YC")
    assert [s.key for s in community_schedules(session, shipped)] == [
        "fees/YC/billing_run", "fees/YC/late_fees", "fees/YC/payment_reconciliation", "fees/YC/payment_statement"]
    # on the server: ours that the plan pauses or no longer names are paused; paused ones stay
    live = {"fees-yc-late_fees": False, "fees-hx-late_fees": False, "energy-yc-meter_polling": False,
            "fees-hx-billing_run": True}
    assert to_pause(list(plan.values()), live) == ["energy-yc-meter_polling", "fees-hx-late_fees"]
