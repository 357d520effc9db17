"""Writing a run's bills and lines fast in the caller's transaction: ``COPY ... FROM STDIN``
on PostgreSQL (text format, each distinct value escaped once, streamed by a writer thread while
the next chunk is computed), a Core ``executemany`` INSERT elsewhere.
"""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from sqlalchemy.exc import IntegrityError

from app.domains.fees.models import Bill, BillLine
from app.platform.bulk import bulk_insert  # noqa: F401 - billing's bulk inserts (moved to the platform)
from app.platform.bulk import dumps_json as _dumps

BILL_COPY_COLUMNS = ["id", "number", "community_id", "household_id", "billing_run_id", "period", "kind",
                      "status", "amount_cents", "paid_cents", "issued_at", "due_date"]
LINE_INSERT_COLUMNS = ["bill_id", "item", "kind", "description", "quantity", "unit_price",
                        "amount_cents", "explanation"]



COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class CopyText:
    """Bill lines as the text of ``COPY ... FROM STDIN`` (PostgreSQL's text format).

    Faster than formatting row by row through the driver: explanations shared by many lines
    are serialised and escaped once (cached by object identity; the objects live as long as
    the run's lines), descriptions and item ids once per distinct value.
    """

    def __init__(self):
        self._json: dict[int, str] = {}
        self._text: dict[str, str] = {}

    def _escaped(self, value: str) -> str:
        out = self._text.get(value)
        if out is None:
            out = self._text[value] = value.translate(COPY_ESCAPES)
        return out

    def lines(self, lines: pd.DataFrame, bill_ids: dict[int, int]) -> str:
        if lines.empty:
            return ""
        json_cache, escaped = self._json, self._escaped
        out = []
        for h, item, description, quantity, unit_price, cents, explanation in zip(
                lines["household_id"].tolist(), lines["item"].tolist(), lines["description"].tolist(),
                lines["quantity"].tolist(), lines["unit_price"].tolist(), lines["amount_cents"].tolist(),
                lines["explanation"].tolist()):
            text_ = json_cache.get(id(explanation))
            if text_ is None:
                # JSON text has no raw tab, newline or CR (escaped inside strings): only the
                # backslash needs COPY's escaping
                text_ = json_cache[id(explanation)] = _dumps(explanation).replace("\\", "\\\\")
            out.append(f"{bill_ids[h]}\t{escaped(item)}\tcharge\t{escaped(description[:300])}\t"
                       f"{quantity}\t{unit_price}\t{int(cents)}\t{text_}\n")
        return "".join(out)


def _copy_text(raw, table, columns: list[str], data: str) -> None:
    """``COPY table (columns) FROM STDIN`` of ready text (no NULLs) on a psycopg connection."""
    if not data:
        return
    from psycopg import errors as psycopg_errors

    quoted = ", ".join(f'"{c}"' for c in columns)
    statement = f'COPY "{table.name}" ({quoted}) FROM STDIN'
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            encoded = data.encode()
            step = 1 << 20
            for i in range(0, len(encoded), step):
                copy.write(encoded[i:i + step])
    except psycopg_errors.IntegrityError as exc:  # same error type as the INSERT path
        raise IntegrityError(statement, None, exc) from exc


class CopyWriter:
    """A thread that COPYs chunks of bills and their lines on one psycopg connection.

    The caller computes the next chunk meanwhile and must not use the connection until
    ``close()`` (or ``abort()``) returns. An error in the thread (e.g. a unique violation
    from a concurrent run) is raised by the next ``submit``/``close``.
    """

    def __init__(self, connection, on_conflict: Callable[[], Exception]):
        import queue
        import threading

        self._connection, self._on_conflict = connection, on_conflict
        self._jobs: queue.Queue = queue.Queue(maxsize=2)
        self._done: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._work, name="billing-copy", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if self._error is not None or self._stop:
                continue
            bills, lines, progress = job
            try:
                _copy_text(self._connection, Bill.__table__, BILL_COPY_COLUMNS, bills)
                _copy_text(self._connection, BillLine.__table__, LINE_INSERT_COLUMNS, lines)
                self._done.put(progress)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            error = self._error
            if isinstance(error, IntegrityError):  # a concurrent run got there first
                raise self._on_conflict() from error
            raise error

    def submit(self, bills: str, lines: str, progress: tuple[int, int]) -> None:
        self._raise()
        self._jobs.put((bills, lines, progress))

    def completed(self) -> list[tuple[int, int]]:
        out = []
        while not self._done.empty():
            out.append(self._done.get())
        return out

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join()
        self._raise()

    def abort(self) -> None:
        self._stop = True
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
