"""Staff task inbox: list, claim, open the form, submit. Phone-sized first."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from app.db import db
from app.engine import claim_task, complete_task, get_task, list_inbox, task_data, unclaim_task
from app.engine.errors import ConcurrentUpdate, EngineError, TaskNotFound, TaskNotOpen
from app.engine.models import ProcessInstance
from app.forms import jsonable, parse_submission, render_form
from app.forms.references import reference_options
from app.security.roles import role_keys_of
from app.forms.versions import form_for_task
from app.platform.uploads import grant_uploads, upload_refs
from app.web.views.uploads import check_form_uploads
from app.security.scope import is_platform_admin, visible_community_ids
from app.web.cards import task_cards, task_detail
from app.web.catalog import get_forms
from app.web.locale import current_locale as _locale



#: roles whose tasks are never a shared pool: a resident's steps are assigned to that resident
#: (``camunda:assignee="${applicant}"``), and one resident never sees another's
PERSONAL_ROLES = frozenset({"resident"})


def user_role_keys() -> set[str]:
    """The pools this user takes tasks from (their roles, less the personal ones)."""
    return role_keys_of([r.name for r in current_user.roles]) - PERSONAL_ROLES


def _visible_task(task_id: int):
    """The task if this user may act on it; 404 otherwise (no existence leak)."""
    try:
        row = get_task(db.session, task_id)
    except TaskNotFound:
        abort(404)
    if row.community_id not in visible_community_ids():
        abort(404)
    mine = row.assignee == current_user.username
    if not (mine or row.role in user_role_keys() or is_platform_admin()):
        abort(404)
    return row


class InboxView(BaseView):
    route_base = "/inbox"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        order = request.args.get("order", "due")
        if order not in ("due", "created"):
            order = "due"
        tasks = list_inbox(db.session, visible_community_ids(), user_role_keys(),
                           current_user.username, order=order, limit=200)
        return self.render_template("engine/inbox.html", tasks=tasks, order=order,
                                    me=current_user.username,
                                    cards=task_cards(db.session, tasks, _locale()))

    @expose("/task/<int:task_id>/claim", methods=["POST"])
    @has_access
    def claim(self, task_id: int):
        row = _visible_task(task_id)
        try:
            claim_task(db.session, row.id, current_user.username, roles=user_role_keys() or None)
            db.session.commit()
        except TaskNotOpen as err:
            db.session.rollback()
            flash(_("This task was already taken: %(why)s", why=str(err)), "warning")
            return redirect(url_for("InboxView.index"))
        return redirect(url_for("InboxView.task", task_id=task_id))

    @expose("/task/<int:task_id>/release", methods=["POST"])
    @has_access
    def release(self, task_id: int):
        row = _visible_task(task_id)
        try:
            unclaim_task(db.session, row.id, current_user.username)
            db.session.commit()
        except TaskNotOpen:
            db.session.rollback()
        return redirect(url_for("InboxView.index"))

    @expose("/task/<int:task_id>", methods=["GET"])
    @has_access
    def task(self, task_id: int):
        return self._task_page(task_id)

    @expose("/task/<int:task_id>", methods=["POST"])
    @has_access
    @permission_name("complete")
    def complete(self, task_id: int):
        return self._task_page(task_id)

    def _task_page(self, task_id: int):
        row = _visible_task(task_id)
        locale = _locale()
        instance = db.session.get(ProcessInstance, row.instance_id)
        form = form_for_task(db.session, instance.version_id, row.form_id, get_forms())
        if form is None:
            flash(_("The form %(form)s of this task is missing or broken.", form=row.form_id), "danger")
            return redirect(url_for("InboxView.index"))
        context = task_data(db.session, row.id) if row.status in ("ready", "claimed") else (row.data or {})
        values, errors = None, {}
        if request.method == "POST":
            if row.status == "ready":
                flash(_("Claim the task before completing it."), "warning")
                return redirect(url_for("InboxView.task", task_id=task_id))
            stored: list[dict] = []
            data, errors, raw = parse_submission(form, request.form, request.files, session=db.session,
                                                 community_id=row.community_id, locale=locale,
                                                 on_store=stored.append)
            data, errors = check_form_uploads(data, errors, raw, stored, scope=f"task:{row.id}",
                                              community_id=row.community_id,
                                              existing=[r["sha256"] for r in upload_refs(context)])
            values = raw
            if not errors:
                try:
                    household_id = context.get("household_id")
                    grant_uploads(db.session, jsonable(data), row.community_id, current_user.username,
                                  household_id=household_id if isinstance(household_id, int) else None)
                    had = set((instance.projection or {}).get("incidents", {}))
                    done = complete_task(db.session, row.id, jsonable(data), current_user.username,
                                         expected_instance_version=request.form.get("_version", type=int))
                    db.session.commit()
                    flash(_("Done: %(title)s", title=row.title or row.element_id), "success")
                    if set((done.projection or {}).get("incidents", {})) - had:
                        flash(_("Your input was saved, but the next step of this process could not "
                                "run; it was reported to the administrators as an incident."), "warning")
                    return redirect(url_for("InboxView.index"))
                except (ConcurrentUpdate, TaskNotOpen) as err:
                    db.session.rollback()
                    flash(_("Someone else changed this task first; nothing of yours was saved. (%(why)s)",
                            why=str(err)), "danger")
                    return redirect(url_for("InboxView.index"))
                except EngineError as err:
                    db.session.rollback()
                    errors = {"_form": [str(err)]}
        html = render_form(
            form, values=values if values is not None else _prefill(form, context), errors=errors,
            context_values=context, locale=locale,
            action_url=url_for("InboxView.task", task_id=task_id), csrf_token=generate_csrf(),
            options=reference_options(form, session=db.session, community_id=row.community_id),
            upload_url="/uploads/{sha256}", static_url=url_for("static", filename="forms"),
        )
        return self.render_template(
            "engine/task.html", row=row, instance=instance, form_html=html,
            detail=task_detail(db.session, row, locale), editable=row.status == "claimed"
            and row.assignee == current_user.username, version=instance.lock_version,
        ), (200 if not errors else 422)


def _prefill(form, context: dict) -> dict | None:
    """Defaults, overridden by task data of the same name (e.g. a draft sent back)."""
    values = {f.name: f.default for f in form.fields if f.default is not None}
    for f in form.fields:
        if f.name in context and context[f.name] not in (None, ""):
            values[f.name] = context[f.name]
    return values


def register(appbuilder) -> None:
    from flask_babel import lazy_gettext as _l

    appbuilder.add_view(InboxView, "inbox", label=_l("My tasks"), icon="fa-inbox",
                        category="Work", category_label=_l("Work"))
