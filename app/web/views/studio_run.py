"""The studio's test-run panel (JSON, ``/studio/run``): start a draft's process in the scratch
community, complete its tasks as each role, fire timers, retry incidents, save the run as a
test case of the draft. Consultants and administrators only; the work is in app/studio."""
from __future__ import annotations

from flask import abort, jsonify, request
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_login import current_user

from app.assets.translate import finding
from app.db import db
from app.engine.errors import EngineError
from app.studio import testcases, testrun
from app.web.labels import code_label
from app.web.locale import current_locale

def _draft(module_id: str):
    """The module's studio draft (404 if there is none)."""
    from app.studio.drafts import get_draft

    draft = get_draft(db.session, module_id)
    if draft is None:
        abort(404)
    return draft


def _id(value: str) -> int:
    """A number from the URL (plain segments, so the access check comes before any 404)."""
    if not str(value).isdigit():
        abort(404)
    return int(value)


def _run(module_id: str, run_id: str):
    run = testrun.get_run(db.session, _id(run_id), module_id)
    if run is None:
        abort(404)
    return run


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description=_("Send a JSON object (Content-Type: application/json)"))
    return body


def _findings(exc: testrun.TestRunError) -> list[dict]:
    locale = current_locale()  # the validator's reasons in the user's language
    return [finding(f, locale) for f in exc.findings]


def _state(run, status: int = 200, **extra):
    """The run as the panel shows it: codes come with their labels."""
    state = testrun.run_state(db.session, run)
    actions = _action_labels()
    state["status_label"] = code_label(state["status"])
    for task in state["tasks"]:
        task["role_label"] = code_label(task["role"]) if task["role"] else _("Anyone")
    for step in state["steps"]:
        step["role_label"] = code_label(step["role"]) if step.get("role") else ""
        step["action_label"] = actions.get(step["action"], step["action"])
        step["status_label"] = code_label(step.get("status"))
    return jsonify({**state, **extra}), status


def _action_labels() -> dict[str, str]:
    return {"start": _("Started"), "task": _("Task completed"), "timer": _("Timer fired"),
            "retry": _("Incident retried")}


class StudioRunView(BaseView):
    route_base = "/studio/run"
    default_view = "run_state"
    method_permission_name = {
        "run_state": "read", "task_form": "read",
        "start": "run", "complete": "run", "fire_timer": "run", "retry": "run", "save_case": "run",
    }

    def _act(self, run, action, *args):
        try:
            result = action(db.session, run, *args)
            db.session.commit()
        except testrun.TestRunError as exc:
            db.session.rollback()
            return jsonify({"errors": _findings(exc)}), 400
        except EngineError as exc:
            db.session.rollback()
            return jsonify({"errors": [{"path": run.process_path, "line": 0, "element": "",
                                        "message": str(exc), "severity": "error"}]}), 409
        if isinstance(result, dict) and result:  # the form refused the data
            return _state(run, 422, form_errors=result)
        return _state(run)

    @expose("/<module_id>/start", methods=["POST"])
    @has_access
    @permission_name("run")
    def start(self, module_id: str):
        body = _body()
        draft = _draft(module_id)
        path = str(body.get("path") or next(iter(testrun.draft_processes(draft.files)), ""))
        start_data = body.get("start_data") or {}
        if not isinstance(start_data, dict):
            abort(400, description=_("The start data must be a JSON object."))
        try:
            run = testrun.start_run(db.session, draft.files, path, module_id=module_id,
                                    actor=current_user.username, start_data=start_data)
            db.session.commit()
        except testrun.TestRunError as exc:
            db.session.rollback()
            return jsonify({"errors": _findings(exc)}), 400
        return _state(run)

    @expose("/<module_id>/<run_id>", methods=["GET"])
    @has_access
    def run_state(self, module_id: str, run_id: str):
        return _state(_run(module_id, run_id))

    @expose("/<module_id>/<run_id>/task/<task_id>/form", methods=["GET"])
    @has_access
    def task_form(self, module_id: str, run_id: str, task_id: str):
        """The task's form, rendered by the task page's renderer from the run's draft files."""
        from app.engine.tasks import task_data
        from app.forms import render_form
        from app.forms.references import reference_options
        from flask import url_for

        run = _run(module_id, run_id)
        try:
            row = testrun.ready_task(db.session, run, _id(task_id))
        except testrun.TestRunError as exc:
            return jsonify({"errors": _findings(exc)}), 404
        form = testrun.draft_form(run.files, row.form_id)
        if form is None:
            return jsonify({"html": "", "form_id": row.form_id,
                            "message": _("This task has no form: completing it only moves the process on.")
                            if not row.form_id else
                            _("The form %(form)s of this task is missing or broken.", form=row.form_id)})
        context = task_data(db.session, row.id)
        values = {f.name: f.default for f in form.fields if f.default is not None}
        html = render_form(form, values=values, context_values=context, locale=current_locale(),
                           options=reference_options(form, session=db.session, community_id=run.community_id),
                           upload_url="/uploads/{sha256}", static_url=url_for("static", filename="forms"))
        return jsonify({"html": str(html), "form_id": row.form_id, "role": row.role,
                        "role_label": code_label(row.role) if row.role else _("Anyone")})

    @expose("/<module_id>/<run_id>/task/<task_id>", methods=["POST"])
    @has_access
    @permission_name("run")
    def complete(self, module_id: str, run_id: str, task_id: str):
        run = _run(module_id, run_id)
        body = _body()
        data = body.get("data") or {}
        if not isinstance(data, dict):
            abort(400, description=_("The form data must be a JSON object."))
        return self._act(run, lambda s, r: testrun.complete_run_task(
            s, r, _id(task_id), body.get("role"), data, current_user.username, locale=current_locale()))

    @expose("/<module_id>/<run_id>/timer/<timer_id>/fire", methods=["POST"])
    @has_access
    @permission_name("run")
    def fire_timer(self, module_id: str, run_id: str, timer_id: str):
        return self._act(_run(module_id, run_id), lambda s, r: testrun.fire_run_timer(s, r, _id(timer_id)))

    @expose("/<module_id>/<run_id>/incident/<incident_id>/retry", methods=["POST"])
    @has_access
    @permission_name("run")
    def retry(self, module_id: str, run_id: str, incident_id: str):
        return self._act(_run(module_id, run_id), lambda s, r: testrun.retry_run_incident(
            s, r, _id(incident_id), current_user.username))

    @expose("/<module_id>/<run_id>/save", methods=["POST"])
    @has_access
    @permission_name("run")
    def save_case(self, module_id: str, run_id: str):
        """The run as ``tests/<module>/<name>.yaml`` in the draft (replayed on every upload)."""
        from app.studio.drafts import file_list, save_file
        from app.studio.lint import lint_draft

        run = _run(module_id, run_id)
        name = str(_body().get("name") or "").strip()
        if not name:
            return jsonify({"errors": [{"path": "", "line": 0, "element": "name", "severity": "error",
                                        "message": _("Give the test case a name.")}]}), 400
        path = testcases.case_path(module_id, testcases.slug(name))
        text = testcases.case_from_run(db.session, run, name)
        draft = _draft(module_id)
        save_file(db.session, draft, path, text, actor=current_user.username)
        db.session.commit()
        findings = lint_draft(db.session, draft, current_locale())
        return jsonify({"path": path, "text": text, "findings": findings, "files": draft.files,
                        "file_list": file_list(draft)})


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(StudioRunView())
