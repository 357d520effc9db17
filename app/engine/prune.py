"""Keep per-step cost flat: cut finished history off the top of the task tree.

Spiff keeps every task an instance ever ran, and walks the whole tree on each
engine step, serialize and load, so a looping process gets slower with age. Once
the tree is large we re-root it at the lowest common ancestor of all unfinished
tasks: everything above or beside it is finished and no longer needed to run.
The element ids of the removed tasks are returned so the diagram still shows them.
"""
from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

PRUNE_ABOVE = 60  # tasks in the top-level tree before pruning is worth it (tests go down to 12)


def prune_history(wf: BpmnWorkflow, threshold: int | None = None) -> list[str]:
    """Re-root ``wf`` if it has more than ``threshold`` tasks; returns removed
    completed element ids (in completion order)."""
    if len(wf.tasks) <= (threshold or PRUNE_ABOVE) or wf.is_completed():
        return []
    unfinished = [t for t in wf.tasks.values() if t.state & TaskState.NOT_FINISHED_MASK]
    if not unfinished:
        return []
    root = _lowest_common_ancestor(unfinished)
    if root is None or root is wf.task_tree:
        return []
    keep = {t.id for t in _subtree(root)}
    removed = [t for t in wf.tasks.values() if t.id not in keep]
    removed.sort(key=lambda t: t.last_state_change)
    elements: list[str] = []
    for task in removed:
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if bpmn_id and task.state == TaskState.COMPLETED:
            elements.append(bpmn_id)
        wf.tasks.pop(task.id, None)
        if task.id in wf.subprocesses:
            wf.subprocesses.pop(task.id, None)
    root.data = dict(root.data)
    root._parent = None
    wf.task_tree = root
    if wf.last_task is not None and wf.last_task.id not in keep:
        wf.last_task = None
    return elements


def _ancestors(task) -> list:
    chain = []
    while task is not None:
        chain.append(task)
        task = task.parent
    return chain


def _lowest_common_ancestor(tasks):
    common = None
    for task in tasks:
        chain = _ancestors(task)
        if common is None:
            common = chain
            continue
        ids = {t.id for t in chain}
        common = [t for t in common if t.id in ids]
    return common[0] if common else None


def _subtree(root):
    stack = [root]
    while stack:
        task = stack.pop()
        yield task
        stack.extend(task.children)
