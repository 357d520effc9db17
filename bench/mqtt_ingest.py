"""Benchmark: MQTT events through the real broker into the router (target >= 2,000/s, no loss).

A separate process plays 20 hydrant sensors publishing QoS 1 events at an offered rate
(``--rate``, default 4,000/s in total; 0 floods, which overflows a default Mosquitto's
1,000-message per-client queue and is a broker setting, not a consumer property); this process runs the ``MqttConnector`` (parse, profile-schema validation,
routing to a handler) and counts what arrives. Baseline: a raw paho subscriber on the same
stream, no validation or routing. Last line: JSON with ``events_per_s``, ``sent``, ``lost``
and the baseline figures. ``--quick``: 4,000 events instead of 20,000.
"""
from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEVICES = 20


def _publish(url: str, root: str, total: int, rate: float, go, done) -> None:
    import paho.mqtt.client as mqtt

    from connectors.mqtt.client import parse_url

    host, port, *_ = parse_url(url)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}")
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect(host, port)
    c.loop_start()
    go.wait()
    infos = []
    t0 = time.perf_counter()
    for seq in range(total):
        if rate and seq % 50 == 0:  # pace: devices report at a rate, they do not flood
            ahead = seq / rate - (time.perf_counter() - t0)
            if ahead > 0:
                time.sleep(ahead)
        dev = seq % DEVICES
        payload = json.dumps({"type": "pressure", "mpa": 0.3, "battery": 80.0, "seq": seq,
                              "at": "2026-03-01T08:00:00+00:00"})
        infos.append(c.publish(f"{root}/BENCH/hyd-{dev}/event", payload, qos=1))
    for info in infos:
        info.wait_for_publish(60)
    done.set()
    c.disconnect()
    c.loop_stop()


def _run(url: str, total: int, rate: float, consumer) -> dict:
    """consumer(root, on_seq) -> (start, stop) callables; returns timing and loss."""
    root = f"bench-{uuid.uuid4().hex[:8]}/estateflow"
    seen: set[int] = set()
    lock = threading.Lock()
    last = [0.0]

    def on_seq(seq: int) -> None:
        with lock:
            seen.add(seq)
            last[0] = time.perf_counter()

    stop = consumer(root, on_seq)
    ctx = mp.get_context("spawn")
    go, done = ctx.Event(), ctx.Event()
    pub = ctx.Process(target=_publish, args=(url, root, total, rate, go, done), daemon=True)
    pub.start()
    time.sleep(1.0)  # publisher connected
    t0 = time.perf_counter()
    go.set()
    deadline = time.monotonic() + max(60, total / 200)
    while time.monotonic() < deadline:
        with lock:
            if len(seen) >= total:
                break
        time.sleep(0.01)
    elapsed = (last[0] or time.perf_counter()) - t0
    stop()
    pub.join(30)
    received = len(seen)
    return {"sent": total, "received": received, "lost": total - received,
            "seconds": round(elapsed, 3), "events_per_s": round(received / elapsed) if elapsed > 0 else 0}


def connector_consumer(url: str):
    from connectors.mqtt import MqttConnector
    from connectors.profiles import shipped_profiles

    profile = shipped_profiles()["hydrant_pressure_sensor"]
    profiles = {f"hyd-{i}": profile for i in range(DEVICES)}

    def start(root, on_seq):
        conn = MqttConnector(url, client_id=f"bench-{root}", root=root, profiles=profiles, persistent=False)
        conn.router.register("pressure.read", lambda e: on_seq(int(e.payload["seq"])))
        conn.start()
        start.conn = conn
        return conn.stop

    return start


def raw_consumer(url: str):
    import paho.mqtt.client as mqtt

    from connectors.mqtt.client import parse_url

    host, port, *_ = parse_url(url)

    def start(root, on_seq):
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-raw-{root}")
        sub = threading.Event()
        c.on_connect = lambda cl, *a: cl.subscribe(f"{root}/+/+/event", qos=1)
        c.on_subscribe = lambda *a: sub.set()
        c.on_message = lambda _c, _u, msg: on_seq(int(json.loads(msg.payload)["seq"]))
        c.connect(host, port)
        c.loop_start()
        sub.wait(10)

        def stop():
            c.disconnect()
            c.loop_stop()
        return stop

    return start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--mqtt-url", default=None)
    parser.add_argument("--rate", type=float, default=4000,
                        help="offered events/s from all devices together (0 = flood)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from app.settings import get_settings
    from connectors.mqtt.broker import ensure_broker

    url = args.mqtt_url or get_settings().mqtt_url
    broker = ensure_broker(url)
    total = args.events or (4000 if args.quick else 20000)
    try:
        routed = _run(url, total, args.rate, connector_consumer(url))
        print(f"connector (validate + route): {routed}")
        raw = _run(url, total, args.rate, raw_consumer(url))
        print(f"baseline (raw paho subscriber): {raw}")
    finally:
        if broker is not None:
            broker.stop()
    result = {"events_per_s": routed["events_per_s"], "sent": routed["sent"], "lost": routed["lost"],
              "seconds": routed["seconds"], "baseline": "raw paho subscriber, no validation/routing",
              "baseline_events_per_s": raw["events_per_s"], "baseline_lost": raw["lost"],
              "offered_rate": args.rate, "target_events_per_s": 2000}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
