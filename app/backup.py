"""``estateflow backup`` / ``restore``: the database and the uploaded files in one archive.

A property company's records — bills paid, repair photos, visitor logs — must survive a lost
disk. One archive holds both halves, because a database without its photos (or photos without
the rows pointing at them) is only half a restore. The manifest records what the archive should
contain (row counts per table, a SHA-256 per uploaded file, the schema revision), so a restore
can prove it brought back exactly what was saved, and refuse an archive that was damaged.

SQLite is copied with its online backup API (consistent while the app runs); PostgreSQL with
``pg_dump --format=custom`` and brought back with ``pg_restore``. An archive restores into the
same kind of database it came from.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import MetaData, create_engine, func, select, text
from sqlalchemy.engine import make_url

FORMAT = 1
_DB_SQLITE = "database.sqlite"
_DB_PG = "database.pgdump"


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is one line for the operator."""


@dataclass
class RestoreReport:
    tables: int
    rows: int
    files: int
    revision: str | None


def _backend(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"backups support SQLite and PostgreSQL, not {name}")
    return name


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """pg_dump/pg_restore connection arguments for a SQLAlchemy URL; the password goes in the
    environment, never on the command line (where ``ps`` would show it)."""
    parsed = make_url(url)
    args = ["--dbname", parsed.database or "postgres"]
    if parsed.host:
        args += ["--host", parsed.host]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return args, env


def _run(command: list[str], env: dict[str, str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed (Debian: apt-get install postgresql-client)")
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise BackupError(f"{command[0]} failed: {last}")


def row_counts(url: str) -> dict[str, int]:
    """Rows per table (the application's tables and alembic's), sorted by name."""
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            return {name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                    for name, table in sorted(metadata.tables.items())}
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # noqa: BLE001 - a database without alembic's table has no revision
        return None
    finally:
        engine.dispose()


def _file_digests(root: Path) -> dict[str, str]:
    digests: dict[str, str] = {}
    if root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digests[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def create_backup(url: str, uploads_dir: Path, output: Path) -> dict:
    """Write the archive ``output`` (tar.gz) and return its manifest."""
    backend = _backend(url)
    with tempfile.TemporaryDirectory(prefix="estateflow-backup-") as tmp:
        work = Path(tmp)
        if backend == "sqlite":
            source_path = _sqlite_path(url)
            if not source_path.exists():
                raise BackupError(f"no SQLite database at {source_path}")
            dump = work / _DB_SQLITE
            source, target = sqlite3.connect(source_path), sqlite3.connect(dump)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
            counted_url = f"sqlite:///{dump}"  # count the copy: what the archive really holds
        else:
            dump = work / _DB_PG
            args, env = _libpq(url)
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(dump), *args], env)
            counted_url = url
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "database": backend,
            "revision": _revision(counted_url),
            "tables": row_counts(counted_url),
            "files": _file_digests(uploads_dir),
        }
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            data = json.dumps(manifest, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
            archive.add(dump, arcname=dump.name)
            for name in manifest["files"]:
                archive.add(uploads_dir / name, arcname=f"uploads/{name}")
        partial.replace(output)  # never leave a half-written archive under the real name
    return manifest


def _safe_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = []
    for member in archive.getmembers():
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
            raise BackupError(f"the archive holds an unsafe entry: {member.name}")
        members.append(member)
    return members


def _database_is_empty(url: str) -> bool:
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        return not metadata.tables
    finally:
        engine.dispose()


def restore_backup(url: str, uploads_dir: Path, archive_path: Path, *, replace: bool = False) -> RestoreReport:
    """Bring back an archive into ``url`` and ``uploads_dir`` and prove it against its manifest.

    Without ``replace`` the target database must be empty (a restore never overwrites records
    by accident); the uploaded files are checked against their digests before anything is
    written, so a damaged archive changes nothing.
    """
    backend = _backend(url)
    if not archive_path.is_file():
        raise BackupError(f"no backup archive at {archive_path}")
    with tempfile.TemporaryDirectory(prefix="estateflow-restore-") as tmp:
        work = Path(tmp)
        try:
            with tarfile.open(archive_path, "r:gz") as archive:
                archive.extractall(work, members=_safe_members(archive), filter="data")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise BackupError(f"{archive_path} is not a readable backup archive ({exc})") from None
        try:
            manifest = json.loads((work / "manifest.json").read_text())
        except (OSError, ValueError):
            raise BackupError(f"{archive_path} has no manifest: not an estateflow backup") from None
        if manifest.get("format") != FORMAT:
            raise BackupError(f"backup format {manifest.get('format')} is not supported by this version")
        if manifest["database"] != backend:
            raise BackupError(f"this archive holds a {manifest['database']} database; "
                              f"ESTATEFLOW_DATABASE_URL is {backend}")
        for name, digest in manifest["files"].items():
            path = work / "uploads" / name
            if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                raise BackupError(f"uploaded file {name} in the archive is damaged or missing; nothing restored")
        if backend == "sqlite":  # a fresh machine: the folder of the SQLite file may not exist yet
            _sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
        if not replace and not _database_is_empty(url):
            raise BackupError("the target database is not empty: restore into an empty database, "
                              "or pass --replace to overwrite it")

        if backend == "sqlite":
            target_path = _sqlite_path(url)
            source, target = sqlite3.connect(work / _DB_SQLITE), sqlite3.connect(target_path)
            try:
                source.backup(target)  # replaces the whole target database page by page
            finally:
                target.close()
                source.close()
        else:
            args, env = _libpq(url)
            if replace:
                _drop_everything(url)
            _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", *args,
                  str(work / _DB_PG)], env)

        restored_uploads = work / "uploads"
        if uploads_dir.exists():
            shutil.rmtree(uploads_dir)
        uploads_dir.parent.mkdir(parents=True, exist_ok=True)
        if restored_uploads.is_dir():
            shutil.copytree(restored_uploads, uploads_dir)
        else:
            uploads_dir.mkdir()

    counts = row_counts(url)
    wrong = [name for name, rows in manifest["tables"].items() if counts.get(name) != rows]
    if wrong:
        raise BackupError(f"restored rows differ from the backup in: {', '.join(wrong[:5])}")
    if _file_digests(uploads_dir) != manifest["files"]:
        raise BackupError("restored uploads differ from the backup")
    return RestoreReport(tables=len(counts), rows=sum(counts.values()), files=len(manifest["files"]),
                         revision=manifest.get("revision"))


def _drop_everything(url: str) -> None:
    """Empty a PostgreSQL database before a ``--replace`` restore: drop the schemas that hold
    our tables (public and the energy module's partitions) and recreate public."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            schemas = conn.execute(text(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                "AND nspname <> 'information_schema'")).scalars().all()
            for schema in schemas:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def default_archive_name(now: datetime | None = None) -> str:
    moment = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"estateflow-backup-{moment}.tar.gz"
