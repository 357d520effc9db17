"""The device page's test buttons send parameters every shipped profile accepts (the charger's
start used to fail with "start: session_id: required")."""
from __future__ import annotations

from app.domains.devices.views.panel import TEST_PARAMS
from connectors.profiles import shipped_profiles


def test_every_test_button_sends_valid_parameters():
    checked = 0
    for profile in shipped_profiles().values():
        for capability in profile.capabilities:
            spec = profile.command_for(capability)
            if spec is None or capability not in TEST_PARAMS:
                continue
            assert spec.params.errors(TEST_PARAMS[capability]) == [], (profile.name, capability)
            checked += 1
    assert checked >= 6
    assert TEST_PARAMS["charger.stop"]["session_id"] == TEST_PARAMS["charger.start"]["session_id"]
