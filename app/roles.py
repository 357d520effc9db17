"""The staff and user roles the platform knows.

BPMN lanes and ``camunda:candidateGroups`` name one of these; validation refuses
any other name so a typo in a consultant's model never produces an unreachable task.
"""
from __future__ import annotations

KNOWN_ROLES: frozenset[str] = frozenset(
    {
        "admin",
        "manager",
        "accountant",
        "technician",
        "guard",
        "front_desk",
        "resident",
        "consultant",
        "regulator",
    }
)
