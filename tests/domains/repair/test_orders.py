"""Repair orders: report validation (nothing half-written), numbering, charging a household
(a payable repair bill when fees is on), and a consultant's change made in YAML only."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import yaml
from sqlalchemy import func, select

from app import clock
from app.domains.estate.models import Household, Unit
from app.domains.fees.models import Bill, BillLine
from app.domains.repair import orders as repair_orders
from app.domains.repair import settings as repair_settings
from app.domains.repair.models import RepairOrder
from app.domains.repair.orders import RepairError
from app.modules.activation import enable_module
from app.modules.catalog import load_catalog
from app.settings import get_settings
from tests.support.repair_estate import PHOTO, make_estate, make_user, report  # noqa: F401

T0 = datetime(2026, 11, 25, 17, 0)  # 01:00 on the 26th in Beijing


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(T0)
    yield
    clock.reset()






def _data(**extra):
    return {"category": "plumbing", "description": "厨房水龙头一直滴水", "photos": [PHOTO],
            "location_kind": "unit", "preferred_time": "anytime", **extra}


def _count(session):
    return session.scalar(select(func.count()).select_from(RepairOrder))


@pytest.mark.parametrize("data,code", [
    (_data(category="spaceship"), "bad_category"),
    (_data(description="   "), "empty_description"),
    (_data(description="x" * 1001), "long_description"),
    (_data(photos=[]), "photo_count"),
    (_data(photos=[PHOTO] * 7), "photo_count"),
    (_data(photos=[{**PHOTO, "content_type": "application/pdf"}]), "photo_type"),
    (_data(photos=[{**PHOTO, "size": 6 * 1024 * 1024}]), "photo_size"),
    (_data(location_kind="moon"), "bad_location"),
])
def test_bad_reports_are_refused_with_nothing_written(session, data, code):
    estate = make_estate(session)
    with pytest.raises(RepairError) as err:
        repair_orders.create_order(session, community_id=estate["community"].id, data=data, actor="res1",
                                   user_id=estate["resident"].id)
    assert err.value.code == code
    assert err.value.message("zh") and err.value.message("en")
    session.rollback()
    assert _count(session) == 0


def test_a_unit_that_is_not_the_residents_is_refused(session):
    estate = make_estate(session)
    other_unit = Unit(community_id=estate["community"].id, building_id=estate["b2"].id, number="201", floor=2,
                      area_m2=Decimal("50.00"))
    session.add(other_unit)
    session.flush()
    other = Household(community_id=estate["community"].id, unit_id=other_unit.id, code="T1-2-201", head_name="李四")
    session.add(other)
    session.commit()
    with pytest.raises(RepairError) as err:
        repair_orders.create_order(session, community_id=estate["community"].id, data=_data(), actor="res1",
                                   user_id=estate["resident"].id, household_id=other.id)
    assert err.value.code == "not_your_unit" and "自己家" in err.value.message("zh")
    session.rollback()
    assert _count(session) == 0


def test_numbering_uses_the_local_date_and_a_double_submission_is_refused(session):
    estate = make_estate(session)
    cid, uid = estate["community"].id, estate["resident"].id
    first = repair_orders.create_order(session, community_id=cid, data=_data(), actor="res1", user_id=uid, token="t-1")
    second = repair_orders.create_order(session, community_id=cid, data=_data(), actor="res1", user_id=uid, token="t-2")
    session.commit()
    assert (first.number, second.number) == ("T1-R-20261126-0001", "T1-R-20261126-0002")
    with pytest.raises(RepairError) as err:
        repair_orders.create_order(session, community_id=cid, data=_data(), actor="res1", user_id=uid, token="t-1")
    assert err.value.code == "duplicate" and err.value.params["number"] == first.number
    session.rollback()
    assert _count(session) == 2
    assert first.household_id == estate["home"].id and first.unit_id is not None
    assert first.response_due_at == T0 + timedelta(minutes=30)
    assert first.resolution_due_at == T0 + timedelta(hours=24)


def test_a_disabled_module_refuses_reports(session):
    estate = make_estate(session)
    from app.modules.activation import disable_module

    disable_module(session, catalog=load_catalog(get_settings().assets_dir), community_id=estate["community"].id,
                   module_id="repair", actor="test")
    session.commit()
    with pytest.raises(RepairError) as err:
        repair_orders.create_order(session, community_id=estate["community"].id, data=_data(), actor="res1",
                                   user_id=estate["resident"].id)
    assert err.value.code == "module_disabled"


def _finished(session, estate, number, materials="35.00", labour="20.00"):
    order = session.scalar(select(RepairOrder).where(RepairOrder.number == number))
    repair_orders.record(session, order, "completed",
                         {"before_photos": [PHOTO], "after_photos": [PHOTO], "work_note": "换阀芯",
                          "materials": "阀芯", "materials_cost": materials, "labour_cost": labour,
                          "charge_household": True})
    if order.quote_status == "pending":
        repair_orders.decide_quote(session, order, user_id=estate["resident"].id, username="res1", accept=True)
    return order


def test_charge_without_fees_stays_on_the_order(session):
    estate = make_estate(session)
    order = repair_orders.create_order(session, community_id=estate["community"].id, data=_data(), actor="res1",
                                       user_id=estate["resident"].id)
    _finished(session, estate, order.number)
    assert order.charge_cents == 5500 and order.bill_id is None
    assert session.scalar(select(func.count()).select_from(Bill)) == 0


def test_charge_becomes_a_payable_repair_bill_when_fees_is_enabled(session):
    estate = make_estate(session)
    catalog = load_catalog(get_settings().assets_dir)
    enable_module(session, catalog=catalog, community_id=estate["community"].id, module_id="fees", actor="test")
    cid, uid = estate["community"].id, estate["resident"].id
    a = repair_orders.create_order(session, community_id=cid, data=_data(), actor="res1", user_id=uid)
    b = repair_orders.create_order(session, community_id=cid, data=_data(category="electrical"), actor="res1",
                                   user_id=uid)
    _finished(session, estate, a.number)
    _finished(session, estate, b.number, materials="12.34", labour="0")
    bill = session.scalar(select(Bill).where(Bill.household_id == estate["home"].id))
    assert (bill.kind, bill.status, bill.period, bill.amount_cents) == ("repair", "open", "2026-11", 5500 + 1234)
    lines = session.scalars(select(BillLine).where(BillLine.bill_id == bill.id).order_by(BillLine.id)).all()
    assert [l.amount_cents for l in lines] == [5500, 1234] and sum(l.amount_cents for l in lines) == bill.amount_cents
    assert lines[0].explanation["order"] == a.number and a.bill_id == bill.id == b.bill_id


def test_common_area_repairs_are_not_charged(session):
    estate = make_estate(session)
    order = repair_orders.create_order(session, community_id=estate["community"].id,
                                       data=_data(location_kind="building_common"), actor="res1",
                                       user_id=estate["resident"].id)
    _finished(session, estate, order.number)
    assert order.charge_cents == 0 and order.unit_id is None and order.building_id == estate["b1"].id


def test_a_consultant_adds_a_category_and_changes_an_sla_in_yaml_only(session, tmp_path, monkeypatch):
    root = get_settings().assets_dir
    for folder in ("menus", "forms", "bpmn"):
        shutil.copytree(root / folder, tmp_path / folder)
    form_path = tmp_path / "forms" / "repair" / "report.yaml"
    form = yaml.safe_load(form_path.read_text(encoding="utf-8"))
    category = next(f for f in form["fields"] if f["name"] == "category")
    category["choices"].append({"value": "window", "label": {"zh": "门窗", "en": "Windows"}})
    form_path.write_text(yaml.safe_dump(form, allow_unicode=True), encoding="utf-8")
    menu_path = tmp_path / "menus" / "repair.yaml"
    menu = yaml.safe_load(menu_path.read_text(encoding="utf-8"))
    for setting in menu["settings"]:
        if setting["name"] == "response_minutes":
            setting["default"] = 20
        if setting["name"] == "skills_by_category":
            setting["default"] += "; window: carpentry"
    menu["settings"].append({"name": "resolution_hours_window", "type": "duration_hours", "default": 6, "min": 1,
                             "max": 720, "label": {"zh": "完成时限·门窗（小时）", "en": "Resolution, windows (hours)"},
                             "description": {"zh": "门窗报修的完成时限。", "en": "Time to resolve a window repair."}})
    menu_path.write_text(yaml.safe_dump(menu, allow_unicode=True), encoding="utf-8")
    from app.assets.validate import validate_paths

    assert validate_paths([tmp_path / "menus" / "repair.yaml", tmp_path / "forms" / "repair",
                           tmp_path / "bpmn" / "repair"], assets_root=tmp_path) == []
    monkeypatch.setenv("ESTATEFLOW_ASSETS_DIR", str(tmp_path))
    get_settings.cache_clear()
    repair_settings.clear_cache()
    try:
        assert "window" in [c.id for c in repair_settings.categories()]
        estate = make_estate(session)
        order = repair_orders.create_order(session, community_id=estate["community"].id,
                                           data=_data(category="window"), actor="res1",
                                           user_id=estate["resident"].id)
        assert order.response_due_at == T0 + timedelta(minutes=20)
        assert order.resolution_due_at == T0 + timedelta(hours=6)
        settings = repair_settings.community_settings(session, estate["community"].id)
        assert repair_settings.required_skill(settings, "window") == "carpentry"
        assert order.status == "unassigned"  # nobody has the carpentry skill: the manager dispatches by hand
    finally:
        monkeypatch.delenv("ESTATEFLOW_ASSETS_DIR")
        get_settings.cache_clear()
        repair_settings.clear_cache()


def test_timeline_and_sla_state(session):
    estate = make_estate(session)
    order = repair_orders.create_order(session, community_id=estate["community"].id, data=_data(), actor="res1",
                                       user_id=estate["resident"].id)
    assert [e.kind for e in repair_orders.timeline(session, order)] == ["reported", "dispatched"]
    assert repair_orders.sla_state(order) == {"response": "pending", "resolution": "pending"}
    assert repair_orders.sla_state(order, T0 + timedelta(minutes=31))["response"] == "overdue"
    order.accepted_at = T0 + timedelta(minutes=10)
    assert repair_orders.sla_state(order)["response"] == "met"
    assert "我家户内" in repair_orders.location_text(session, order)
