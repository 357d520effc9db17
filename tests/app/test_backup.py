"""``estateflow backup`` / ``restore`` round trips: the demo database and its uploaded files come
back with every table's row count and every file's checksum, on SQLite and PostgreSQL; a
restore never overwrites data by accident and a damaged archive changes nothing."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.backup import row_counts
from tests.conftest import PG_ADMIN_URL, _drop_pg_database

ROOT = Path(__file__).resolve().parents[2]


def _estateflow(db_url: str, var_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ESTATEFLOW_DATABASE_URL": db_url, "ESTATEFLOW_VAR_DIR": str(var_dir)}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300, cwd=ROOT)


def _empty_database(demo_db_url: str, tmp_path: Path) -> tuple[str, str | None]:
    if demo_db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'restored' / 'estateflow.db'}", None
    name = f"ef_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}", name


def _photo(var_dir: Path) -> tuple[Path, str]:
    photo = var_dir / "uploads" / "repair" / "2026" / "leak.jpg"
    photo.parent.mkdir(parents=True, exist_ok=True)
    photo.write_bytes(os.urandom(50_000))
    return photo, hashlib.sha256(photo.read_bytes()).hexdigest()


def test_a_backup_restores_into_an_empty_database_with_every_row_and_file(demo_db_url, tmp_path):
    var_dir = tmp_path / "var"
    photo, digest = _photo(var_dir)
    archive = tmp_path / "backup.tar.gz"
    before = row_counts(demo_db_url)
    assert before["household"] > 0 and before["ab_user"] > 0

    made = _estateflow(demo_db_url, var_dir, "backup", "-o", str(archive))
    assert made.returncode == 0, made.stderr
    assert "1 uploaded files" in made.stdout and archive.is_file()

    target_url, pg_name = _empty_database(demo_db_url, tmp_path)
    new_var = tmp_path / "newvar"
    try:
        restored = _estateflow(target_url, new_var, "restore", str(archive))
        assert restored.returncode == 0, restored.stderr
        assert row_counts(target_url) == before
        restored_photo = new_var / "uploads" / photo.relative_to(var_dir / "uploads")
        assert hashlib.sha256(restored_photo.read_bytes()).hexdigest() == digest
        # the restored database is one the app accepts: migrated to the same revision
        engine = create_engine(target_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() is not None
            assert conn.execute(text("SELECT count(*) FROM household")).scalar() == before["household"]
        engine.dispose()

        # a second restore into the now non-empty database is refused without --replace
        again = _estateflow(target_url, new_var, "restore", str(archive))
        assert again.returncode != 0 and "not empty" in again.stderr
        assert "Traceback" not in again.stderr
    finally:
        if pg_name:
            _drop_pg_database(pg_name)


def test_restore_with_replace_brings_back_deleted_records_and_files(demo_db_url, tmp_path):
    var_dir = tmp_path / "var"
    photo, digest = _photo(var_dir)
    archive = tmp_path / "backup.tar.gz"
    assert _estateflow(demo_db_url, var_dir, "backup", "-o", str(archive)).returncode == 0
    before = row_counts(demo_db_url)

    engine = create_engine(demo_db_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event"))
    engine.dispose()
    photo.unlink()
    assert row_counts(demo_db_url)["audit_event"] == 0

    restored = _estateflow(demo_db_url, var_dir, "restore", "--replace", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert row_counts(demo_db_url) == before
    assert hashlib.sha256(photo.read_bytes()).hexdigest() == digest


def test_a_damaged_archive_is_refused_and_changes_nothing(demo_db_url, tmp_path):
    var_dir = tmp_path / "var"
    photo, digest = _photo(var_dir)
    archive = tmp_path / "backup.tar.gz"
    assert _estateflow(demo_db_url, var_dir, "backup", "-o", str(archive)).returncode == 0

    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive, "r:gz") as source, tarfile.open(damaged, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else None
            if member.name.endswith("leak.jpg"):
                data = b"x" + data[1:]
            target.addfile(member, None if data is None else __import__("io").BytesIO(data))
    before = row_counts(demo_db_url)
    photo.write_bytes(b"changed since the backup")

    refused = _estateflow(demo_db_url, var_dir, "restore", "--replace", str(damaged))
    assert refused.returncode != 0
    assert "damaged" in refused.stderr and "Traceback" not in refused.stderr
    assert row_counts(demo_db_url) == before
    assert photo.read_bytes() == b"changed since the backup"

    not_an_archive = tmp_path / "notes.txt"
    not_an_archive.write_text("hello")
    answer = _estateflow(demo_db_url, var_dir, "restore", str(not_an_archive))
    assert answer.returncode != 0 and "not a readable backup archive" in answer.stderr


@pytest.mark.parametrize("demo_db_url", ["sqlite"], indirect=True)
def test_an_archive_restores_only_into_the_same_kind_of_database(demo_db_url, tmp_path, pg_url):
    archive = tmp_path / "backup.tar.gz"
    assert _estateflow(demo_db_url, tmp_path / "var", "backup", "-o", str(archive)).returncode == 0
    answer = _estateflow(pg_url, tmp_path / "var2", "restore", str(archive))
    assert answer.returncode != 0 and "holds a sqlite database" in answer.stderr
