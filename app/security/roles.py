"""The platform's roles, declared in code as Flask-AppBuilder builtin roles.

Builtin roles (``FAB_ROLES``) are regexes over (view, permission) pairs checked
in memory, so a role's reach is reviewable here in one place and never drifts
in the database. Community isolation is separate (``app.security.scope``):
a role says *what kind* of record a user may touch, membership says *which*.
"""
from __future__ import annotations

ADMIN = "Admin"
MANAGER = "Manager"
ACCOUNTANT = "Accountant"
TECHNICIAN = "Technician"
GUARD = "Guard"
FRONT_DESK = "FrontDesk"
RESIDENT = "Resident"
CONSULTANT = "Consultant"
REGULATOR = "Regulator"

#: FAB role name -> the role key used in BPMN lanes / candidate groups.
ROLE_KEYS: dict[str, str] = {
    ADMIN: "admin",
    MANAGER: "manager",
    ACCOUNTANT: "accountant",
    TECHNICIAN: "technician",
    GUARD: "guard",
    FRONT_DESK: "front_desk",
    RESIDENT: "resident",
    CONSULTANT: "consultant",
    REGULATOR: "regulator",
}

#: Role labels for the UI, zh and en.
ROLE_LABELS: dict[str, dict[str, str]] = {
    ADMIN: {"zh": "平台管理员", "en": "Platform admin"},
    MANAGER: {"zh": "项目经理", "en": "Community manager"},
    ACCOUNTANT: {"zh": "收费员", "en": "Accountant"},
    TECHNICIAN: {"zh": "维修工", "en": "Technician"},
    GUARD: {"zh": "保安", "en": "Guard"},
    FRONT_DESK: {"zh": "客服", "en": "Front desk"},
    RESIDENT: {"zh": "住户", "en": "Resident"},
    CONSULTANT: {"zh": "实施顾问", "en": "Consultant"},
    REGULATOR: {"zh": "监管（只读）", "en": "Regulator (read-only)"},
}

_READ = "can_(list|show|get|info|download|export)"
_WRITE = "can_(add|edit|delete|post|put)"
_ESTATE_VIEWS = "CommunityView|BuildingView|UnitView|HouseholdView|ResidentView|StaffView|DeviceView"
_COMMON = [
    ["LocaleView", "can_index"],
    ["UserInfoEditView", "can_this_form_get|can_this_form_post"],
    ["UserDBModelView", "can_userinfo|userinfoedit"],
    ["ResetMyPasswordView", "can_this_form_get|can_this_form_post"],
    ["HomeView", "can_index"],
]

FAB_ROLES: dict[str, list[list[str]]] = {
    MANAGER: _COMMON
    + [
        [f"^({_ESTATE_VIEWS})$", f"^({_READ}|{_WRITE})$"],
        ["^(ModuleMenuView|HouseholdImportView|InboxView|InstanceView)$", ".*"],
        ["^(ProcessDefinitionView)$", "^(can_list)$"],
        ["^(AuditView)$", f"^({_READ})$"],
        ["^(EstateApi)$", ".*"],
    ],
    ACCOUNTANT: _COMMON
    + [
        ["^(HouseholdView|ResidentView|UnitView|BuildingView)$", f"^({_READ})$"],
        ["^(InboxView)$", ".*"],
        ["^(EstateApi)$", "^(can_get)$"],
    ],
    TECHNICIAN: _COMMON
    + [
        ["^(DeviceView|BuildingView|UnitView)$", f"^({_READ})$"],
        ["^(InboxView)$", ".*"],
    ],
    GUARD: _COMMON
    + [
        ["^(DeviceView|BuildingView)$", f"^({_READ})$"],
        ["^(InboxView)$", ".*"],
    ],
    FRONT_DESK: _COMMON
    + [
        ["^(HouseholdView|ResidentView)$", f"^({_READ}|{_WRITE})$"],
        ["^(BuildingView|UnitView|StaffView)$", f"^({_READ})$"],
        ["^(InboxView|HouseholdImportView|InstanceView)$", ".*"],
        ["^(EstateApi)$", ".*"],
    ],
    RESIDENT: _COMMON + [["^(ResidentPortalView)$", ".*"]],
    CONSULTANT: _COMMON
    + [
        ["^(ProcessDefinitionView|ProcessApi)$", "^(can_list|can_upload|can_validate)$"],
        # the studio (issue #20): its editor page and every part of it (forms preview, test run)
        ["^(Studio[A-Za-z]*)$", ".*"],
    ],
    REGULATOR: _COMMON
    + [
        [f"^({_ESTATE_VIEWS}|AuditView)$", f"^({_READ})$"],
        ["^(ModuleMenuView)$", "^(can_index|can_list)$"],
        ["^(EstateApi)$", "^(can_get)$"],
    ],
}


def role_keys_of(role_names: list[str]) -> set[str]:
    """BPMN role keys for a user's FAB roles (unknown custom roles map to nothing)."""
    return {ROLE_KEYS[name] for name in role_names if name in ROLE_KEYS}
