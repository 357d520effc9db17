"""The inbound router: by event type, by capability, for all; a failing handler is contained."""
from datetime import datetime

from connectors.router import InboundEvent, InboundRouter


def _event(type_="alert", capability="camera.alert"):
    return InboundEvent("YC", "cam-1", type_, {"type": type_}, "ai_camera", capability, datetime(2026, 1, 1))


def test_routes_by_type_capability_and_star_once_each():
    router = InboundRouter()
    seen = []
    router.register("alert", lambda e: seen.append("type"))
    router.register("camera.alert", lambda e: seen.append("capability"))
    router.register("*", lambda e: seen.append("all"))
    router.register("entry", lambda e: seen.append("wrong"))
    assert router.dispatch(_event()) == 3
    assert sorted(seen) == ["all", "capability", "type"]


def test_failing_handler_is_counted_and_others_still_run():
    router = InboundRouter()
    seen = []

    def broken(event):
        raise RuntimeError("bug")

    router.register("alert", broken)
    router.register("alert", seen.append)
    assert router.dispatch(_event()) == 1
    assert len(seen) == 1 and router.stats["handler_errors"] == 1
    router.dispatch(_event("entry", None))
    assert router.stats["unhandled"] == 1
