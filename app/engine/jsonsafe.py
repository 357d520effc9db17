"""Form data as JSON columns accept it (Decimal money and dates become strings)."""
from __future__ import annotations

import json
from typing import Any


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))
