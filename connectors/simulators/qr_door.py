"""A simulated door controller that reads visitor QR codes and asks the platform.

Like a vendor's door with a QR reader: the code it reads is sent to the platform over HTTP
(``POST <platform>/api/v1/access/validate`` with the door's key in ``X-Device-Key``); the
door opens only if the platform says so, then reports the entry (granted or refused) on its
MQTT ``event`` topic like any other entry. Card credentials work as in ``SimulatedDoor``.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from connectors.simulators.devices import SimulatedDoor


class QrDoor(SimulatedDoor):
    def __init__(self, *args, platform_url: str, device_key: str, http_timeout: float = 5.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.platform_url = platform_url.rstrip("/")
        self.device_key = device_key
        self.http_timeout = http_timeout
        self.opened = 0
        self.last_answer: dict | None = None

    def ask_platform(self, token: str) -> dict:
        body = json.dumps({"community": self.community, "device": self.device, "token": token}).encode()
        request = urllib.request.Request(f"{self.platform_url}/api/v1/access/validate", data=body, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "X-Device-Key": self.device_key})
        try:
            with urllib.request.urlopen(request, timeout=self.http_timeout) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, ValueError, TimeoutError) as exc:
            return {"ok": False, "reason": f"platform unreachable: {exc}"}

    def present_qr(self, token: str) -> bool:
        """A visitor holds a QR code to the reader: open if the platform admits it."""
        answer = self.last_answer = self.ask_platform(token)
        granted = bool(answer.get("ok"))
        credential = answer.get("credential") if granted else f"qr-refused:{answer.get('reason', 'unknown')}"
        self.opened += granted
        self.publish_event("entry", credential=str(credential)[:200], method="qr", granted=granted)
        return granted
