"""Started from the staff's Instances page (which passes no start data), a module that needs
start data does not crash: its first task waits in its role's inbox and an incident on that
element names what is missing, so an operator sees why."""
from __future__ import annotations

from tests.support.module_flows import Flow, make_estate


def test_started_without_start_data_is_an_incident_naming_what_is_missing(session):
    estate = make_estate(session, ["item_pass"])
    flow = Flow(session, estate["community"], "item_pass", "FX-009", {})
    assert flow.waiting() == ["request"]
    [incident] = flow.incidents()
    assert incident.startswith("request: ") and "'applicant'" in incident
