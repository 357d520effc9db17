"""Engine exceptions callers are expected to catch and show to a user."""
from __future__ import annotations


class EngineError(Exception):
    """Base class for engine errors a caller can report to the user."""


class ConcurrentUpdate(EngineError):
    """Someone else changed the instance since it was loaded: reload and try again."""

    def __init__(self, instance_id: int, expected_version: int):
        self.instance_id = instance_id
        self.expected_version = expected_version
        super().__init__(
            f"process instance {instance_id} was changed by someone else "
            f"(expected version {expected_version}); reload it and try again"
        )


class TaskNotFound(EngineError):
    """No such task row."""


class TaskNotOpen(EngineError):
    """The task is already completed or cancelled, or claimed by another person."""


class ProcessNotFound(EngineError):
    """No deployed version of this process id."""


class IncidentNotOpen(EngineError):
    """The incident is already resolved."""


class StepFailed(EngineError):
    """Something unexpected failed while the engine ran on after a person's input.

    Nothing of the action is kept (the caller rolls back): the person's task is as it
    was, and what they typed is still in their form."""

    def __init__(self, element: str | None, cause: Exception):
        self.element = element
        self.cause = cause
        where = f" after '{element}'" if element else ""
        super().__init__(
            f"the process could not go on{where} ({type(cause).__name__}); nothing was saved "
            "and your input is still in the form. Please try again later or tell an "
            "administrator.")
