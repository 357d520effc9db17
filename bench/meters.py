"""Benchmark: read 1,000 simulated Modbus meters concurrently (target < 5 s on 2 cores).

The meters live on 10 simulated gateways (100 unit ids each) served by a separate process,
as real gateways would be. Each answer is delayed by ``--latency-ms``
(default 5 ms, an RS-485 bus behind a gateway; 0 = bare loopback). Compared with a
baseline: pymodbus's sync client reading the same meters one after another. Last line: JSON with ``meters``, ``seconds``, ``good`` and the
baseline figures. ``--quick``: 200 meters on 4 gateways.
"""
from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _serve(ports: list[int], per_gateway: int, latency: float, ready, stop) -> None:
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    from connectors.simulators.meters import SimMeter, start_meter_server

    handles = [start_meter_server([SimMeter(u) for u in range(1, per_gateway + 1)], port=p,
                                  latency=latency) for p in ports]
    ready.set()
    stop.wait()
    for h in handles:
        h.stop()


def baseline(requests) -> tuple[float, int]:
    from pymodbus.client import ModbusTcpClient

    from connectors.modbus.registers import decode_register

    start = time.perf_counter()
    good = 0
    clients: dict = {}
    for req in requests:
        addr = req.parsed
        client = clients.get(addr.gateway)
        if client is None:
            client = clients[addr.gateway] = ModbusTcpClient(addr.host, port=addr.port, timeout=1)
            client.connect()
        reg = req.reg
        rr = client.read_holding_registers(reg.address, count=reg.count, device_id=addr.unit)
        if not rr.isError():
            decode_register(rr.registers, reg)
            good += 1
    for c in clients.values():
        c.close()
    return time.perf_counter() - start, good


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--gateways", type=int, default=None)
    parser.add_argument("--per-gateway", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=5.0,
                        help="simulated bus latency per request (RS-485 at 38,400 baud: ~5 ms)")
    args = parser.parse_args(argv)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    gateways = args.gateways or (4 if args.quick else 10)
    per = args.per_gateway or (50 if args.quick else 100)

    from connectors.modbus import MeterRequest, read_meters_sync
    from connectors.profiles import shipped_profiles
    from connectors.simulators.meters import free_port

    ports = [free_port() for _ in range(gateways)]
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ports, per, args.latency_ms / 1000, ready, stop), daemon=True)
    server.start()
    if not ready.wait(60):
        raise SystemExit("simulated gateways did not start")
    profile = shipped_profiles()["water_meter_dn20"]
    reqs = [MeterRequest(f"W{p}-{u}", f"127.0.0.1:{p}/{u}", profile) for p in ports for u in range(1, per + 1)]
    try:
        best = None
        for _ in range(max(1, args.rounds)):
            t0 = time.perf_counter()
            readings = read_meters_sync(reqs, timeout=2.0, retries=1, concurrency=gateways)
            elapsed = time.perf_counter() - t0
            good = sum(r.quality == "good" for r in readings)
            if best is None or elapsed < best[0]:
                best = (elapsed, good)
            print(f"concurrent: {len(reqs)} meters in {elapsed:.3f} s ({good} good)")
        base_s, base_good = baseline(reqs)
        print(f"baseline (sync client, sequential): {len(reqs)} meters in {base_s:.3f} s ({base_good} good)")
    finally:
        stop.set()
        server.join(20)
    result = {"meters": len(reqs), "gateways": gateways, "seconds": round(best[0], 3), "good": best[1],
              "baseline": "pymodbus sync client, sequential", "baseline_seconds": round(base_s, 3),
              "baseline_good": base_good, "latency_ms": args.latency_ms, "target_seconds": 5.0,
              "speedup": round(base_s / best[0], 1)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
