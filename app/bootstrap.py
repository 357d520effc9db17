"""Start-up steps shared by the CLI commands: migrate, roles, demo data, services."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from app.settings import get_settings

log = logging.getLogger(__name__)


def initialise(with_demo: bool = False):
    """Migrate the database, create roles, and optionally seed the demo."""
    from app.migrate import upgrade
    from app.web import create_app

    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    app = create_app()
    logins = []
    with app.app_context():
        from app.db import db

        sm = app.appbuilder.sm
        from app.security.roles import FAB_ROLES

        for role_name in FAB_ROLES:
            if sm.find_role(role_name) is None:
                sm.add_role(role_name)
        from app.platform.processes import deploy_catalog
        from app.web.catalog import get_catalog

        deploy_catalog(db.session, get_catalog(), actor="init")
        db.session.commit()
        if with_demo:
            from app.demo.seed import seed_demo

            logins = seed_demo(db.session, sm)
            db.session.commit()
            _after_demo_seed(db.session)
    return logins


def _after_demo_seed(session) -> None:
    """Hook for modules that add demo state (enabled modules, orders, bills)."""
    try:
        from app.demo.modules import seed_module_demo
    except ImportError:
        return
    seed_module_demo(session)
    session.commit()


def start_background_services(simulators: bool = True) -> list[Callable[[], None]]:
    """Broker, simulators and the engine worker for the one-process demo."""
    stops: list[Callable[[], None]] = []
    if simulators:
        try:
            from connectors.mqtt.broker import ensure_broker

            broker = ensure_broker(get_settings().mqtt_url)
            if broker is not None:
                stops.append(broker.stop)
        except ImportError:
            log.warning("connectors not available: no broker started")
        try:
            stops.append(start_demo_simulators())
        except Exception as exc:  # e.g. the Modbus port is taken by another demo
            log.warning("simulated devices not started: %s", exc)
            print(f"warning: simulated devices not started: {exc}")
    stop_event = threading.Event()
    thread = threading.Thread(target=run_worker, kwargs={"stop_event": stop_event}, daemon=True)
    thread.start()
    stops.append(stop_event.set)
    return stops


def _poll_meters() -> None:
    """One meter polling round; a failure is logged and the loop goes on."""
    from workflows.meter_polling import poll

    try:
        counts = poll()
        log.info("meter readings: %s", counts)
    except Exception:  # noqa: BLE001 - a broken gateway must not stop the worker
        log.exception("meter polling failed")


def _module_scheduler():
    """The cron scheduler of the enabled modules' ``schedules:`` (None if the flows cannot load)."""
    from app.platform.scheduler import Scheduler, flow_runner

    try:
        return Scheduler(flow_runner())
    except Exception:  # noqa: BLE001 - the worker still fires timers and takes device events
        log.exception("module schedules not started")
        return None


def _run_schedules(scheduler, session) -> None:
    """Due module schedules, each for its community; the read transaction ends before they run."""
    from app.web.catalog import get_catalog

    try:
        due = scheduler.due_now(session, get_catalog())
    except Exception:  # noqa: BLE001 - keep the loop alive; the error is logged
        log.exception("reading module schedules failed")
        due = []
    finally:
        session.rollback()
    scheduler.run(due)


def start_demo_simulators() -> Callable[[], None]:
    """The demo scenario's meters and MQTT devices, in background threads."""
    from connectors.simulators.run import SCENARIOS_DIR, Simulation
    from connectors.simulators.scenario import load_scenario

    simulation = Simulation(load_scenario(SCENARIOS_DIR / "demo.yaml"), get_settings().mqtt_url,
                            start_broker=False)
    thread = threading.Thread(target=simulation.run, name="simulators", daemon=True)
    thread.start()
    return simulation.stop


def _deliver_messages(session) -> None:
    """The SMS/WeChat outbox: messages due now (new ones and retries whose wait is over)."""
    from app.domains.notifications.delivery import deliver_due

    try:
        sent = deliver_due(session)
        if sent:
            log.info("delivered %s messages", sent)
    except Exception:  # noqa: BLE001 - keep the loop alive; the error is logged
        session.rollback()
        log.exception("message delivery sweep failed")


def run_worker(once: bool = False, interval: float = 1.0, stop_event: threading.Event | None = None) -> None:
    """Loop: fire due timers, send due SMS/WeChat messages; alongside, a thread consumes device
    events over MQTT."""
    from app.web import create_app

    stop_event = stop_event or threading.Event()
    app = create_app()  # every model imported and mapped before the consumer thread starts
    if not once:
        from app.domains.devices.event_consumer import run_consumer

        threading.Thread(target=run_consumer, args=(stop_event,), name="device-events", daemon=True).start()
    poll_every = get_settings().meter_poll_seconds
    next_poll = 0.0
    with app.app_context():
        from app.db import db

        scheduler = _module_scheduler() if not once and get_settings().worker_runs_schedules else None
        while True:
            if poll_every and not once and time.monotonic() >= next_poll:
                next_poll = time.monotonic() + poll_every
                _poll_meters()
            if scheduler is not None:
                _run_schedules(scheduler, db.session)
            try:
                from app.engine.timers import fire_due_timers
            except ImportError:
                fire_due_timers = None
            if fire_due_timers is not None:
                try:
                    fired = fire_due_timers(db.session)
                    db.session.commit()
                    if fired:
                        log.info("fired %s timers", fired)
                except Exception:  # keep the loop alive; the error is logged
                    db.session.rollback()
                    log.exception("timer sweep failed")
            _deliver_messages(db.session)
            if once or stop_event.is_set():
                return
            stop_event.wait(interval)
