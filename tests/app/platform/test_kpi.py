"""The dashboard's tile registry: tiles come from the domains' kpis.py, each only over the
communities where its module is enabled; a new domain plugs a tile in with no other edit."""
from __future__ import annotations

import types

from app.modules.models import ModuleActivation
from app.platform import kpi
from tests.support.kpi_estate import NOW, build_kpi_estate


def test_tiles_follow_module_activation(session):
    a, b = build_kpi_estate(session), build_kpi_estate(session)
    session.add(ModuleActivation(community_id=a.community.id, module_id="fees", version="1.0.0", enabled=True))
    session.add(ModuleActivation(community_id=b.community.id, module_id="repair", version="1.0.0", enabled=False))
    session.flush()
    scope = kpi.month_scope([a.community.id, b.community.id], 3, NOW)
    assert scope.months == ("2026-09", "2026-10", "2026-11")
    built = {t.tile.id: t for t in kpi.build_dashboard(session, scope)}
    assert built["fees.collection"].community_ids == (a.community.id,)
    assert "repair.response" not in built  # disabled in b, never enabled in a
    assert built["devices.health"].community_ids == (a.community.id, b.community.id)  # base: always
    assert {f.key for f in kpi.today(session, a.community.id, NOW)} >= {"fees.arrears", "devices.offline",
                                                                          "engine.manager_tasks"}
    assert "repair.overdue" not in {f.key for f in kpi.today(session, a.community.id, NOW)}
    as_json = built["fees.collection"].as_dict()
    assert as_json["figures"][0]["value"] is None and as_json["figures"][0]["empty"] == "no bills issued"


def test_a_new_domain_adds_a_tile_without_other_edits(session, monkeypatch):
    estate = build_kpi_estate(session)
    session.add(ModuleActivation(community_id=estate.community.id, module_id="energy", version="1.0.0",
                                 enabled=True))
    session.flush()
    tile = kpi.Tile("energy.trend", "Public energy", lambda s, scope: kpi.TileData(
        figures=[kpi.Figure("saving", "Saving", 12.5, unit="percent", count=3, basis="meters")]), module="energy")
    energy = types.SimpleNamespace(TILES=[tile])
    from app.platform import discovery

    real = discovery.domain_parts
    monkeypatch.setattr(discovery, "domain_parts", lambda part: real(part) + ([energy] if part == "kpis" else []))
    built = {t.tile.id: t for t in kpi.build_dashboard(session, kpi.month_scope([estate.community.id], 3, NOW))}
    assert built["energy.trend"].data.figures[0].value == 12.5


def test_quantile_matches_linear_interpolation():
    assert kpi.quantile([], 0.5) is None
    assert kpi.quantile([10, 20, 30, 40, 100], 0.9) == 76.0
    assert kpi.percent(1, 3) == kpi.percent(10, 30) and str(kpi.percent(1, 3)) == "33.3"
    assert kpi.percent(5, 0) is None
