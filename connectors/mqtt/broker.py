"""A broker for the demo: use the one that is running, else start Mosquitto, else amqtt.

``ensure_broker(url)`` returns None when something already listens at the URL (production
and CI start their broker themselves), otherwise a handle whose ``stop()`` ends the broker
it started. Mosquitto runs as a child process (not ``-d``) from a generated config that binds
127.0.0.1 only and persists to a folder we own; amqtt (MQTT 3.1.1 only, which is what the
connector speaks) runs in a background thread's event loop, also bound to 127.0.0.1.
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from connectors.mqtt.client import parse_url

log = logging.getLogger(__name__)


def is_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _wait_listening(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_listening(host, port, 0.2):
            return True
        time.sleep(0.05)
    return False


def mosquitto_config(port: int, var_dir: Path, host: str = "127.0.0.1") -> str:
    var_dir = Path(var_dir)
    return (
        f"listener {port} {host}\n"
        "allow_anonymous true\n"
        "persistence true\n"
        f"persistence_location {var_dir}/\n"
        "autosave_interval 1\n"
        "max_queued_messages 100000\n"
        # QoS 1 messages a client may have unacknowledged (default 20): the event consumer
        # acknowledges after its commit, so this is the most a batch of the inbox can hold
        "max_inflight_messages 200\n"
        "log_dest stderr\n"
        "log_type error\n"
        "log_type warning\n"
        # running as root Mosquitto would switch to user 'mosquitto', who cannot write here
        "user root\n"
    )


class MosquittoBroker:
    """A Mosquitto child process with its own config and persistence folder."""

    kind = "mosquitto"

    def __init__(self, port: int, var_dir: Path | None = None, host: str = "127.0.0.1",
                 binary: str | None = None) -> None:
        self.host, self.port = host, port
        self.var_dir = Path(var_dir or tempfile.mkdtemp(prefix="ef-mosquitto-"))
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.var_dir / "mosquitto.conf"
        self.conf.write_text(mosquitto_config(port, self.var_dir, host))
        self.binary = binary or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc: subprocess.Popen | None = None
        self.log_path = self.var_dir / "mosquitto.log"

    def start(self, wait: float = 10.0) -> "MosquittoBroker":
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=log_file,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if not _wait_listening(self.host, self.port, wait):
            self.stop()
            raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log_path.read_text()[-500:]}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: Mosquitto saves its persistence file on the way out."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.proc = None

    def restart(self, wait: float = 10.0) -> None:
        self.stop()
        self.start(wait)


class AmqttBroker:
    """amqtt in a background thread's event loop, bound to ``host:port`` only."""

    kind = "amqtt"

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self._loop = asyncio.new_event_loop()
        self._broker = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="amqtt-broker", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            from amqtt.broker import Broker

            config = {
                "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                "plugins": {
                    "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
                },
            }
            self._broker = Broker(config, loop=self._loop)
            self._loop.run_until_complete(self._broker.start())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    def start(self, wait: float = 15.0) -> "AmqttBroker":
        self._thread.start()
        self._ready.wait(wait)
        if self._error or not _wait_listening(self.host, self.port, wait):
            raise RuntimeError(f"amqtt did not start on {self.host}:{self.port}: {self._error}")
        return self

    def stop(self) -> None:
        if self._broker is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            fut.result(10)
        except Exception:  # noqa: BLE001 - best effort
            log.debug("amqtt shutdown error", exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._broker = None


def ensure_broker(url: str, var_dir: Path | None = None, prefer: str | None = None):
    """None if a broker already listens at ``url``; else start Mosquitto (if installed) or
    amqtt and return its handle (``.stop()``). ``prefer='amqtt'`` skips Mosquitto."""
    host, port, _user, _password = parse_url(url)
    if is_listening(host, port):
        return None
    if host not in ("127.0.0.1", "localhost"):
        raise ConnectionError(f"no MQTT broker at {host}:{port} and it is not local to start one")
    host = "127.0.0.1"
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if binary and prefer != "amqtt":
        log.info("starting mosquitto on %s:%s", host, port)
        return MosquittoBroker(port, var_dir, host, binary).start()
    log.info("starting embedded amqtt broker on %s:%s", host, port)
    return AmqttBroker(port, host).start()
