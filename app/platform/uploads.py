"""Access to stored uploads.

A stored file is only a hash on disk; what makes it readable is a **grant**: the file became
part of a record of a community (``grant_uploads``). Who of that community may read it depends
on the grant's audience and household (``readable_upload``).

A form may *keep* a file it does not send again (a re-rendered form after an error, a draft sent
back). A kept reference is **not** a capability: it is accepted only if this user uploaded that
file for this same task or form within ``KEEP_HOURS`` (an ``UploadReceipt``), or if the file is
already part of the instance's data (``existing``) — see ``refused_kept_uploads``.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.platform.models import UploadGrant, UploadReceipt

#: how long a user may keep (re-attach) a file they uploaded for a form without sending it again
KEEP_HOURS = 6

COMMUNITY = "community"
SECURITY = "security"  # camera snapshots, hydrant charts: security staff only


def upload_refs(value: Any) -> Iterable[dict]:
    """Every upload reference (a dict with ``sha256``) anywhere in ``value``."""
    if isinstance(value, dict) and "sha256" in value:
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from upload_refs(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from upload_refs(item)


_refs = upload_refs  # older name


def grant_uploads(session: Session, data: dict, community_id: int, actor: str, *,
                  audience: str = COMMUNITY, household_id: int | None = None) -> int:
    """Record every upload reference in ``data`` as part of a record of ``community_id``.

    ``household_id``: the household whose record this is (its residents may read the file);
    ``audience="security"``: only security staff may read it.
    """
    count = 0
    for ref in upload_refs(data):
        if session.get(UploadGrant, (ref["sha256"], community_id)) is None:
            # INSERT … ON CONFLICT DO NOTHING: two requests granting the same photo at the same
            # moment (a resident's repeated report, two phones) both succeed, one row is kept
            values = dict(sha256=ref["sha256"], community_id=community_id,
                          content_type=ref.get("content_type", "application/octet-stream"),
                          granted_by=actor, audience=audience, household_id=household_id,
                          granted_at=utcnow())
            insert = _dialect_insert(session)(UploadGrant).values(**values).on_conflict_do_nothing(
                index_elements=["sha256", "community_id"]).returning(UploadGrant.sha256)
            count += len(session.execute(insert).all())
    return count


def _dialect_insert(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def record_receipts(session: Session, refs: Iterable[dict], *, user_id: int | None, scope: str,
                    community_id: int | None) -> None:
    """Note that ``user_id`` stored these files while filling in ``scope`` (``task:<id>``,
    ``form:<form id>``): what lets them keep the files on the next submission of that scope."""
    for ref in refs:
        session.add(UploadReceipt(sha256=ref["sha256"], user_id=user_id, scope=scope,
                                  community_id=community_id))


def refused_kept_uploads(session: Session, data: dict, *, new: Iterable[str], user_id: int | None,
                         scope: str, existing: Iterable[str] = ()) -> dict[str, list[str]]:
    """Field name → hashes in ``data`` this submission may not attach.

    Allowed: files stored in this very request (``new``), files already in the instance's data
    (``existing``), and files this user uploaded for this scope within ``KEEP_HOURS``.
    """
    allowed = set(new) | set(existing)
    refused: dict[str, list[str]] = {}
    since = utcnow() - timedelta(hours=KEEP_HOURS)
    for name, value in data.items():
        for ref in upload_refs(value):
            sha = ref["sha256"]
            if sha in allowed:
                continue
            receipt = session.scalar(select(UploadReceipt.id).where(
                UploadReceipt.sha256 == sha, UploadReceipt.user_id == user_id, UploadReceipt.scope == scope,
                UploadReceipt.uploaded_at >= since).limit(1))
            if receipt is None:
                refused.setdefault(name, []).append(sha)
            else:
                allowed.add(sha)
    return refused


def readable_upload(session: Session, sha256: str, *, community_ids: list[int], user_id: int | None,
                    staff: bool, security: bool, household_ids: Iterable[int] = ()) -> str | None:
    """The content type to serve ``sha256`` with to this user, or None (→ 404).

    * security-audience files (camera snapshots): security staff only (``security``);
    * other granted files: staff of the communities they were granted to; a resident (not
      ``staff``) only when the grant names one of their households;
    * anyone may read a file they uploaded themselves (their own form's preview).
    """
    households = set(household_ids)
    grants = session.scalars(select(UploadGrant).where(
        UploadGrant.sha256 == sha256, UploadGrant.community_id.in_(community_ids))).all()
    for grant in grants:
        if grant.audience == SECURITY:
            if security:
                return grant.content_type
        elif staff or (grant.household_id is not None and grant.household_id in households):
            return grant.content_type
    own = session.scalar(select(UploadReceipt.id).where(
        UploadReceipt.sha256 == sha256, UploadReceipt.user_id == user_id).limit(1)) if user_id else None
    if own is not None and not any(g.audience == SECURITY for g in grants):
        return ""  # caller sniffs the type from the file
    return None


def readable_grant(session: Session, sha256: str, community_ids: list[int]) -> UploadGrant | None:
    """The grant that lets a user with these communities read the file, if any (staff view)."""
    return session.scalar(
        select(UploadGrant).where(UploadGrant.sha256 == sha256, UploadGrant.community_id.in_(community_ids))
    )


#: files stored by submissions that never became part of a record are removed after this long
GRACE_HOURS = 48


def sweep_unreferenced_uploads(session: Session, *, grace_hours: float = GRACE_HOURS, root=None,
                               now=None) -> int:
    """Remove the files of refused (or abandoned) submissions; returns how many files went.

    A candidate is a file some user uploaded through a form (it has receipts), whose newest
    receipt is older than the grace period, and that **no grant refers to** (every record that
    takes a file grants it: task data, repair orders, snapshots). Files are content-addressed,
    so one granted use anywhere keeps the file for everyone. Its receipts go with it.
    """
    from sqlalchemy import delete, func

    from app.forms.uploads import upload_path

    cutoff = (now or utcnow()) - timedelta(hours=grace_hours)
    granted = select(UploadGrant.sha256).where(UploadGrant.sha256 == UploadReceipt.sha256).exists()
    candidates = session.scalars(
        select(UploadReceipt.sha256).where(~granted).group_by(UploadReceipt.sha256)
        .having(func.max(UploadReceipt.uploaded_at) < cutoff)).all()
    removed = 0
    for sha in candidates:
        try:
            path = upload_path(sha, root)
        except ValueError:
            path = None
        if path is not None and path.is_file():
            path.unlink()
            removed += 1
        session.execute(delete(UploadReceipt).where(UploadReceipt.sha256 == sha))
    return removed
