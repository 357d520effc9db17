"""Benchmark: a rush hour at the barrier gates, through the real broker (issue #14).

A 2,000-space community: a morning rush of plate reads at an entry and an exit gate — permit
holders leaving, temporary cars arriving and leaving (some within the free minutes, some with a
fee), 5 % of the reads repeated by the camera two seconds later, 1 % exits of cars that never
entered. Every read goes through Mosquitto to the platform's event consumer (inbox, handlers,
one transaction per event) on a migrated database (SQLite by default, ``--pg`` for PostgreSQL);
each exit's fee is computed and ``gate.open`` goes back over MQTT to the simulated gate.

Measured in one run:

* **exit → gate command**: from publishing an exit read to the simulated gate (a separate
  process, like a real device) receiving ``open`` for that plate (exits that open at once:
  permits, stays inside the free minutes), p50/p95, with the reads offered at ``--rate`` per
  second (default 5/s, the rush rate of 3,000 reads in 10 minutes: the full run's latency
  phase lasts 10 minutes);
* **payment → gate command** for the exits with a fee: each driver's signed sandbox
  notification handled, the ticket paid, ``open`` received by the gate;
* **sustainable events/s**: a second, equal batch offered at ``--flood-rate`` (default 500/s,
  twice the target), handled reads per second from the first publish to the last stored read
  (an event is acknowledged to the broker only once stored, so the broker holds the backlog:
  Mosquitto keeps at most ``max_queued_messages`` — 1,000 by default — per subscriber and drops
  QoS 1 messages beyond it, so an unbounded burst of 3,000 measures the broker's queue limit, not
  the platform; ``lost`` would show it). So the bench starts its OWN Mosquitto on a free port
  with the deployment's limits (``connectors.mqtt.broker.mosquitto_config``: persistence,
  ``max_queued_messages 100000`` as in ``deploy/mosquitto/estateflow.conf``); ``--shared-broker``
  uses the configured one instead (the machine's, default limits);
* **inbox lanes**: with several lanes (``--workers``; PostgreSQL's default is 4) a third, equal
  batch is flooded through ONE lane first, in the same run: ``lanes_gain`` is the ratio;
* **baseline**: the raw MQTT round trip in the same run (a paho client publishing, a second
  client echoing on another topic), p50/p95;
* ``lost`` (reads published but not stored), ``double_charged`` (stays charged more than once,
  or paid more than once), ``duplicates_counted_once``, ``orphan_reviews``.

Usage: python bench/parking.py [--quick] [--pg] [--events N] [--rate R] [--flood-rate F] [--shared-broker].
Last line: JSON.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PG_ADMIN_URL = os.environ.get("ESTATEFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CODE = "BENCHPK"


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 2)


def _database(pg: bool) -> tuple[str, callable]:
    if not pg:
        path = Path(tempfile.mkdtemp()) / "bench.db"
        return f"sqlite:///{path}", lambda: None
    from sqlalchemy import create_engine, text

    name = f"ef_pkbench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}", drop


def seed(url: str, permits: int, parked: list[tuple[str, int]]) -> dict:
    """The community, both gates, ``permits`` permit plates, the temporary cars already parked."""
    from datetime import date

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from app import clock
    from app.domains.devices.registry import register_device
    from app.domains.estate.models import Community, PropertyCompany
    from app.domains.parking.models import ParkingPermit, ParkingTicket
    from app.migrate import upgrade
    from app.modules.activation import enable_module
    from app.modules.catalog import load_catalog
    from app.platform.processes import install_hooks
    from app.settings import get_settings

    upgrade(url)
    engine = create_engine(url)
    now = clock.now().replace(microsecond=0)
    with Session(engine) as s:
        company = PropertyCompany(name="压测物业")
        community = Community(company=company, code=CODE, name="压测小区")
        s.add_all([company, community])
        s.flush()
        gate_in = register_device(s, community.id, "GATE-IN", "东门入口", "barrier_gate", "gate-in")
        register_device(s, community.id, "GATE-OUT", "东门出口", "barrier_gate", "gate-out")
        install_hooks()
        catalog = load_catalog(get_settings().assets_dir)
        for module in ("fees", "parking"):
            enable_module(s, catalog=catalog, community_id=community.id, module_id=module, actor="bench",
                          settings={"night_start_hour": 0, "night_end_hour": 0} if module == "parking" else None)
        from app.domains.estate.models import Building, Household, Unit

        building = Building(community_id=community.id, code="1", name="1号楼")
        s.add(building)
        s.flush()
        unit = Unit(community_id=community.id, building_id=building.id, number="101", floor=1, area_m2=60)
        s.add(unit)
        s.flush()
        home = Household(community_id=community.id, unit_id=unit.id, code=f"{CODE}-1", head_name="车主", active=True)
        s.add(home)
        s.flush()
        for i in range(permits):
            s.add(ParkingPermit(number=f"BP{i:05d}", community_id=community.id, household_id=home.id,
                                plate=f"京P{i:05d}", kind="annual", starts_on=date(2026, 1, 1),
                                ends_on=date(2027, 12, 31), price_cents=150000, status="active", created_by="bench"))
        for plate, minutes in parked:
            s.add(ParkingTicket(number=f"BT{plate}", community_id=community.id, plate=plate, status="parked",
                                kind="temporary", entry_device_id=gate_in.id, entry_at=now - timedelta(minutes=minutes),
                                pay_token=uuid.uuid4().hex, created_at=now))
        s.commit()
        ids = {"community": community.id}
    engine.dispose()
    return ids


def workload(n: int, rng: random.Random, batch: str) -> tuple[list[dict], list[tuple[str, int]], int]:
    """Reads in publishing order, the temporary cars parked before, how many permit plates."""
    orphans = max(1, n // 100)
    dups = n * 5 // 100
    base = n - orphans - dups
    permit_exits = base * 40 // 100
    temp_exits = base * 30 // 100
    temp_entries = base - permit_exits - temp_exits
    reads: list[dict] = []
    parked: list[tuple[str, int]] = []
    for i in range(permit_exits):
        reads.append({"plate": f"京P{(i + 'abc'.index(batch) * permit_exits):05d}", "direction": "out", "kind": "permit"})
    for i in range(temp_exits):
        plate = f"京T{batch.upper()}{i:04d}"
        free = i % 2 == 0
        parked.append((plate, 10 if free else 130))
        reads.append({"plate": plate, "direction": "out", "kind": "free" if free else "paid"})
    for i in range(temp_entries):
        reads.append({"plate": f"京N{batch.upper()}{i:04d}", "direction": "in", "kind": "entry"})
    for i in range(orphans):
        reads.append({"plate": f"京X{batch.upper()}{i:04d}", "direction": "out", "kind": "orphan"})
    rng.shuffle(reads)
    for read in rng.sample(reads, dups):  # the camera reads the same car again 2 s later
        reads.insert(reads.index(read) + 1, {**read, "duplicate": True})
    return reads, parked, permit_exits * 2


def _devices(mqtt_url: str, root: str, commands, answers) -> None:
    """The gates, in their own process (real devices are not in the platform's process): they
    publish the reads the parent asks for and note when ``open`` arrives for each plate."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from connectors.simulators.devices import SimulatedGate

    opened_at: dict[str, list[float]] = {}
    lock = threading.Lock()

    class TimedGate(SimulatedGate):
        def cmd_open(self, reason=None, plate=None):
            with lock:
                opened_at.setdefault(plate or "", []).append(time.time())
            return super().cmd_open(reason=reason, plate=plate)

    gates = {d: TimedGate(CODE, d, mqtt_url, root=root).start() for d in ("gate-in", "gate-out")}
    answers.put("ready")
    while True:
        command, arg = commands.get()
        if command == "stop":
            break
        if command == "opened":
            with lock:
                answers.put({k: list(v) for k, v in opened_at.items()})
            continue
        reads, rate = arg
        published: dict[str, float] = {}
        t0 = time.perf_counter()
        for i, read in enumerate(reads):
            if rate:
                ahead = i / rate - (time.perf_counter() - t0)
                if ahead > 0:
                    time.sleep(ahead)
            at = datetime.now(UTC).replace(microsecond=0) + (timedelta(seconds=2) if read.get("duplicate") else timedelta())
            gate = gates["gate-in" if read["direction"] == "in" else "gate-out"]
            if not read.get("duplicate"):
                published[read["plate"]] = time.time()
            gate.publish_event("plate", wait=False, plate=read["plate"], direction=read["direction"],
                               confidence=0.96, opened=False, at=at.isoformat())
        answers.put(published)
    for g in gates.values():
        g.stop()


def raw_round_trip(mqtt_url: str, count: int) -> list[float]:
    """The floor: a paho client publishes, another echoes on a second topic (QoS 1 both ways)."""
    import paho.mqtt.client as mqtt

    from connectors.mqtt.client import parse_url

    host, port, *_ = parse_url(mqtt_url)
    root = f"bench-rt-{uuid.uuid4().hex[:8]}"
    got: dict[int, float] = {}
    ready = threading.Event()
    done = threading.Event()

    echo = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{root}-echo")
    echo.on_connect = lambda c, *_a: c.subscribe(f"{root}/ping", qos=1)
    echo.on_subscribe = lambda *_a: ready.set()
    echo.on_message = lambda c, _u, m: c.publish(f"{root}/pong", m.payload, qos=1)
    echo.connect(host, port)
    echo.loop_start()
    pinger = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{root}-ping")
    sub_ok = threading.Event()
    pinger.on_connect = lambda c, *_a: c.subscribe(f"{root}/pong", qos=1)
    pinger.on_subscribe = lambda *_a: sub_ok.set()

    def on_pong(_c, _u, m):
        got[int(m.payload)] = time.perf_counter()
        if len(got) >= count:
            done.set()

    pinger.on_message = on_pong
    pinger.connect(host, port)
    pinger.loop_start()
    ready.wait(10)
    sub_ok.wait(10)
    sent: dict[int, float] = {}
    for i in range(count):
        sent[i] = time.perf_counter()
        pinger.publish(f"{root}/ping", str(i), qos=1)
        time.sleep(0.002)
    done.wait(30)
    for c in (pinger, echo):
        c.disconnect()
        c.loop_stop()
    return [(got[i] - sent[i]) * 1000 for i in sent if i in got]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="600 reads per phase instead of 3,000")
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--rate", type=float, default=5.0,
                        help="reads per second offered in the latency phase (default: the rush rate, 3,000 in 10 min)")
    parser.add_argument("--flood-rate", type=float, default=500.0,
                        help="reads per second offered in the throughput phase (0: as fast as possible)")
    parser.add_argument("--workers", type=int, default=None,
                        help="inbox lanes (default: the settings' inbox_workers, else 4 on PostgreSQL, 1 on SQLite); "
                        "with more than one, a flood with one lane is measured first in the same run")
    parser.add_argument("--shared-broker", action="store_true",
                        help="use the configured broker (default: an own Mosquitto with the deployment's limits)")
    args = parser.parse_args(argv)
    n = args.events or (600 if args.quick else 3000)
    logging.basicConfig(level=logging.ERROR)
    os.environ.setdefault("ESTATEFLOW_VAR_DIR", tempfile.mkdtemp())
    rng = random.Random(14)

    from sqlalchemy import create_engine, func, select
    from sqlalchemy.orm import sessionmaker

    from app.domains.devices import bus
    from app.domains.devices.event_consumer import EventConsumer, default_workers
    from app.domains.fees.gateways.sandbox import SandboxBank
    from app.domains.fees.models import GatewayNotification
    from app.domains.parking import tickets
    from app.domains.parking.models import ParkingTicket, PlateEvent, PlateReview
    from app.settings import get_settings

    reads_a, parked_a, permits_a = workload(n, rng, "a")
    reads_b, parked_b, permits_b = workload(n, rng, "b")
    reads_c, parked_c, permits_c = workload(n, rng, "c")
    url, drop = _database(args.pg)
    seed(url, permits_a + permits_b + permits_c, parked_a + parked_b + parked_c)
    engine = create_engine(url)
    factory = sessionmaker(engine, expire_on_commit=False)
    lanes = args.workers or get_settings().inbox_workers or default_workers(factory)
    broker = None
    if args.shared_broker:
        mqtt_url = get_settings().mqtt_url
    else:
        from connectors.mqtt.broker import MosquittoBroker
        from connectors.simulators.meters import free_port

        broker = MosquittoBroker(free_port(), Path(tempfile.mkdtemp(prefix="ef-pkbench-mqtt-"))).start()
        mqtt_url = f"mqtt://127.0.0.1:{broker.port}"
    root = f"bench-{uuid.uuid4().hex[:8]}"

    def start_consumer(workers: int) -> EventConsumer:
        return EventConsumer(factory, mqtt_url=mqtt_url, root=root, client_id=f"bench-pk-{uuid.uuid4().hex[:8]}",
                             persistent=False, workers=workers).start()

    consumer = start_consumer(lanes)
    # commands go out on their own connection, as in production (``bus.connector_for``): the
    # consumer's connection acknowledges events only after their commit, so under a flood its
    # QoS 1 window is full of events and a gate's ack would wait behind them
    from app.domains.devices.registry import SessionOutbox, mqtt_profile_lookup
    from connectors.mqtt.client import MqttConnector

    with factory() as s:
        profiles = mqtt_profile_lookup(s)
    sender = MqttConnector(mqtt_url, client_id=f"bench-cmd-{uuid.uuid4().hex[:8]}", root=root, profiles=profiles,
                           outbox=SessionOutbox(factory), persistent=False, owns_outbox=False).start()
    bus.use_connector(sender)
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    commands, answers = ctx.Queue(), ctx.Queue()
    devices = ctx.Process(target=_devices, args=(mqtt_url, root, commands, answers), daemon=True)
    devices.start()
    assert answers.get(timeout=60) == "ready"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(consumer.connector.is_online(CODE, d) for d in ("gate-in", "gate-out")):
        time.sleep(0.05)
    published: dict[str, float] = {}

    def publish(reads: list[dict], rate: float) -> float:
        t0 = time.time()
        commands.put(("publish", (reads, rate)))
        published.update(answers.get(timeout=3600))
        return t0

    def opened() -> dict[str, list[float]]:
        commands.put(("opened", None))
        return answers.get(timeout=60)

    def stored() -> int:
        with factory() as s:
            return s.scalar(select(func.count(PlateEvent.id)))

    def wait_stored(target: int, timeout: float) -> float:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if stored() >= target:
                return time.time()
            time.sleep(0.05)
        return time.time()

    # phase A: latency at the offered rate
    publish(reads_a, args.rate)
    wait_stored(len(reads_a), 120 + len(reads_a) / 20)
    direct = [r["plate"] for r in reads_a if r["kind"] in ("permit", "free") and not r.get("duplicate")]
    opened_at = opened()
    exit_ms = [(opened_at[p][0] - published[p]) * 1000 for p in direct if p in opened_at]
    # the drivers with a fee pay (the sandbox bank's signed notification), the gate opens
    bank = SandboxBank()
    paid_at: dict[str, float] = {}
    replays = []
    with factory() as s:
        due = list(s.scalars(select(ParkingTicket).where(ParkingTicket.status == "awaiting_payment")))
    for ticket in due:
        with factory() as s:
            t = s.get(ParkingTicket, ticket.id)
            tickets.start_payment(s, t, notify_url="http://bench/notify", return_url="http://bench/back")
            s.commit()
            order = {"o": t.out_trade_no, "a": t.fee_cents}
        headers, body = bank.signed_notification(order, f"SBX{t.number}")
        paid_at[t.plate] = time.time()
        with factory() as s:
            tickets.receive_notification(s, "sandbox", headers, body)
            s.commit()
        replays.append((headers, body))
    time.sleep(1.0)
    opened_at = opened()
    pay_ms = [(opened_at[p][-1] - t) * 1000 for p, t in paid_at.items() if p in opened_at]
    with factory() as s:  # every notification delivered again: nothing more is credited
        for headers, body in replays:
            tickets.receive_notification(s, "sandbox", headers, body)
        s.commit()
    loads = {"latency_phase": round(os.getloadavg()[0], 1)}

    def flood(reads: list[dict]) -> float:
        """Handled reads per second from the first publish to the last stored read."""
        before = stored()
        t0 = publish(reads, args.flood_rate)
        t_end = wait_stored(before + len(reads), 300 + len(reads) / 10)
        return round((stored() - before) / (t_end - t0), 1) if t_end > t0 else 0.0

    # phase B: well above the target rate; with several lanes, one lane first (the same run's
    # reference: the lanes' gain), then the lanes
    inbox_stats: dict = {}
    one_lane_per_s = None
    if lanes > 1:
        inbox_stats = {k.removeprefix("router_"): v for k, v in consumer.stats.items() if k.startswith("router_")}
        consumer.stop()
        consumer = start_consumer(1)
        one_lane_per_s = flood(reads_c)
        loads["one_lane_flood"] = round(os.getloadavg()[0], 1)
        consumer.stop()
        consumer = start_consumer(lanes)
    else:
        reads_c = []
    events_per_s = flood(reads_b)
    loads["flood"] = round(os.getloadavg()[0], 1)
    baseline = raw_round_trip(mqtt_url, 500 if not args.quick else 200)

    with factory() as s:
        total_reads = len(reads_a) + len(reads_b) + len(reads_c)
        lost = total_reads - s.scalar(select(func.count(PlateEvent.id)))
        charged = dict(s.execute(select(PlateEvent.ticket_id, func.count(PlateEvent.id)).where(
            PlateEvent.outcome.in_(("fee_due", "exit_free"))).group_by(PlateEvent.ticket_id)).all())
        accepted = dict(s.execute(select(GatewayNotification.out_trade_no, func.count(GatewayNotification.id)).where(
            GatewayNotification.outcome == "accepted").group_by(GatewayNotification.out_trade_no)).all())
        double = sum(1 for c in charged.values() if c > 1) + sum(1 for c in accepted.values() if c > 1)
        dups_sent = sum(1 for r in reads_a + reads_b + reads_c if r.get("duplicate"))
        dups_counted = s.scalar(select(func.count(PlateEvent.id)).where(PlateEvent.outcome == "duplicate"))
        orphans = s.scalar(select(func.count(PlateReview.id)).where(PlateReview.reason == "orphan_exit"))
        orphans_sent = sum(1 for r in reads_a + reads_b + reads_c if r["kind"] == "orphan" and not r.get("duplicate"))
        paid = s.scalar(select(func.count(ParkingTicket.id)).where(ParkingTicket.status == "paid"))
        gate_status = dict(s.execute(select(PlateEvent.gate_status, func.count(PlateEvent.id))
                                     .group_by(PlateEvent.gate_status)).all())
    for key, value in consumer.stats.items():
        if key.startswith("router_"):
            inbox_stats[key.removeprefix("router_")] = inbox_stats.get(key.removeprefix("router_"), 0) + value
    commands.put(("stop", None))
    devices.join(30)
    bus.use_connector(None)
    sender.stop()
    consumer.stop()
    engine.dispose()
    drop()
    broker_drops = None
    if broker is not None:
        broker.stop()
        broker_drops = sum(1 for line in broker.log_path.read_text(errors="replace").splitlines()
                           if "dropped" in line.lower())
    result = {
        "database": "postgresql" if args.pg else "sqlite", "reads_per_phase": n,
        "broker": "shared (configured)" if broker is None else "own mosquitto, max_queued_messages 100000",
        "broker_drop_warnings": broker_drops, "offered_rate": args.rate,
        "p50_ms": pct(exit_ms, 0.5), "p95_ms": pct(exit_ms, 0.95), "exits_timed": len(exit_ms),
        "pay_to_gate_p50_ms": pct(pay_ms, 0.5), "pay_to_gate_p95_ms": pct(pay_ms, 0.95), "paid_tickets": paid,
        "events_per_s": events_per_s, "inbox_lanes": lanes, "one_lane_events_per_s": one_lane_per_s,
        "lanes_gain": round(events_per_s / one_lane_per_s, 2) if one_lane_per_s else None,
        "target_events_per_s": 250.0, "of_target": round(events_per_s / 250.0, 2), "flood_offered_per_s": args.flood_rate, "rush_rate_per_s": 5.0, "times_rush_rate": round(events_per_s / 5.0, 1),
        "baseline": "raw MQTT round trip (paho publish → echo client → paho), QoS 1",
        "baseline_p50_ms": pct(baseline, 0.5), "baseline_p95_ms": pct(baseline, 0.95),
        "lost": lost, "double_charged": double, "duplicates_sent": dups_sent,
        "duplicates_counted_once": dups_counted, "orphan_exits_sent": orphans_sent, "orphan_reviews": orphans,
        "gate_status": {str(k): v for k, v in gate_status.items()}, "inbox": inbox_stats, "load": loads, "load_after": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(result, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
