"""The studio's scratch community: where test runs of drafts happen, never a real one.

One community (code ``STUDIO-SCRATCH``) of its own property company, with a few buildings,
units, households and residents as sample data, made on first use through the estate models.
Nobody is a member of it, and ``app.security.scope`` leaves it out of a platform admin's
communities, so no list, dashboard or inbox shows it. Device commands address devices by
community code (``estateflow/STUDIO-SCRATCH/...``) and the scratch community has no devices:
an operation that would talk to hardware finds none and the run shows an incident.

Test-run process versions are stored under ``studio-scratch:<process id>``: a process id no
community starts, kept out of the process list and of every community's startable processes.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.estate.models import Building, Community, Household, PropertyCompany, Resident, Unit

SCRATCH_COMMUNITY_CODE = "STUDIO-SCRATCH"
SCRATCH_COMPANY_NAME = "Studio scratch (test runs)"
SCRATCH_PROCESS_PREFIX = "studio-scratch:"
#: the login a resident's steps are assigned to in a test run (``camunda:assignee="${applicant}"``)
SAMPLE_RESIDENT_LOGIN = "studio-resident"

#: building code -> unit numbers; one household and one resident per unit
_SAMPLE = {"S1": ("101", "102"), "S2": ("201", "202")}


def is_scratch_process(process_id: str | None) -> bool:
    return bool(process_id) and process_id.startswith(SCRATCH_PROCESS_PREFIX)


def scratch_community_id(session: Session) -> int | None:
    """The scratch community's id, None until a first test run made it."""
    return session.scalar(select(Community.id).where(Community.code == SCRATCH_COMMUNITY_CODE))


def ensure_scratch_community(session: Session) -> Community:
    """The scratch community with its sample data, made now if missing (no commit)."""
    found = session.scalar(select(Community).where(Community.code == SCRATCH_COMMUNITY_CODE))
    if found is not None:
        return found
    company = session.scalar(select(PropertyCompany).where(PropertyCompany.name == SCRATCH_COMPANY_NAME))
    if company is None:
        company = PropertyCompany(name=SCRATCH_COMPANY_NAME, name_en=SCRATCH_COMPANY_NAME)
        session.add(company)
    community = Community(company=company, code=SCRATCH_COMMUNITY_CODE, name="工作室试运行小区（样例数据）",
                          name_en="Studio test-run community (sample data)", address="—")
    session.add(community)
    session.flush()
    for b, (code, numbers) in enumerate(_SAMPLE.items(), start=1):
        building = Building(community_id=community.id, code=code, name=f"样例{b}号楼", floors=6)
        session.add(building)
        session.flush()
        for number in numbers:
            unit = Unit(community_id=community.id, building_id=building.id, number=number,
                        floor=int(number[0]), area_m2=Decimal("88.50"))
            session.add(unit)
            session.flush()
            household = Household(community_id=community.id, unit_id=unit.id,
                                  code=f"{SCRATCH_COMMUNITY_CODE}-{code}-{number}",
                                  head_name=f"样例住户{code}-{number}", phone="13800000000")
            session.add(household)
            session.flush()
            session.add(Resident(community_id=community.id, household_id=household.id,
                                 name=household.head_name, phone=household.phone, relation="owner"))
    session.flush()
    return community


def sample_start_data(session: Session, community_id: int) -> dict:
    """What a process started for a resident gets (``applicant``, ``household_id``, ``unit_id``)."""
    household = session.scalar(select(Household).where(Household.community_id == community_id)
                               .order_by(Household.id).limit(1))
    data: dict = {"applicant": SAMPLE_RESIDENT_LOGIN}
    if household is not None:
        data.update(household_id=household.id, unit_id=household.unit_id)
    return data
