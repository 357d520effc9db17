"""Inspection (巡查巡检): patrol points with QR labels, routes with schedules, patrol runs (one
``inspection_run`` process each), check-ins against data-driven checklists
(``forms/inspection/checklists/*.yaml``), findings and their rectification (整改) process,
compliance status and the monthly report, and the regulator's spot checks (抽查).

Offers to other domains: ``compliance_overview`` (per community: items checked, failed,
rectified on time) for a dashboard.
"""
from app.platform.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "compliance_overview": "compliance",
})
