"""Domain models. Importing this package registers every table on ``Model.metadata``."""
from app.models.community import Building, Community, PropertyCompany, Unit, UserCommunity
from app.models.people import Household, Resident, Staff, StaffCommunity
from app.models.device import Device
from app.models.modules import ModuleActivation
from app.models.audit import AuditEvent

__all__ = [
    "AuditEvent",
    "Building",
    "Community",
    "Device",
    "Household",
    "ModuleActivation",
    "PropertyCompany",
    "Resident",
    "Staff",
    "StaffCommunity",
    "Unit",
    "UserCommunity",
]
