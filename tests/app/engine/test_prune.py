"""Long-running loops keep working (and keep their history) after old steps are pruned."""
from __future__ import annotations

from app.engine import prune
from app.engine.history import instance_data, instance_history
from app.engine.runtime import start_instance
from app.engine.tasks import complete_task


def test_loop_survives_pruning_and_keeps_its_path(session, community, deploy, open_tasks,
                                                  monkeypatch):
    monkeypatch.setattr(prune, "PRUNE_ABOVE", 12)
    deploy("loop.bpmn")
    inst = start_instance(session, "loop", community.id, "METER-1")
    session.commit()
    for i in range(30):
        [task] = open_tasks(inst.id)
        assert task.title == f"Read meter {i + 1}"
        complete_task(session, task.id, {"stop": i == 29, f"reading_{i}": i}, actor="tech")
        session.commit()
    assert inst.status == "completed"
    assert "init" in inst.projection["pruned_elements"]  # pruning really happened
    data = instance_data(session, inst.id)
    assert data["n"] == 30 and data["reading_0"] == 0 and data["reading_29"] == 29
    path = instance_history(session, inst.id)["completed_elements"]
    assert path[:3] == ["start", "init", "work"] and "end" in path


def test_small_trees_are_left_alone():
    from app.engine.prune import prune_history

    class Tiny:
        tasks = {1: None}

    assert prune_history(Tiny(), threshold=10) == []
