"""住户服务: the resident services of the household's community (processes whose BPMN says
``started_by: resident``), started from the phone, and the resident's own open steps.

A resident's steps are done on the task page every role uses (``InboxView.task``); a resident
sees and opens only steps assigned to them (``app/web/views/inbox.py`` never treats
``resident`` as a pool).
"""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_login import current_user

from app.db import db
from app.domains.estate.residents import require_household
from app.engine.errors import EngineError
from app.platform.resident_services import first_task_for, my_open_tasks, resident_services, start_service
from app.security.scope import visible_community_ids

GRANTS = {"Resident": [["^(ResidentServicesView)$", ".*"], ["^(InboxView)$", "^(can_index|can_task|can_complete)$"]]}


def services_badge(session, household) -> str | None:
    """How many of this resident's steps wait for them (the home tile's badge)."""
    waiting = len(my_open_tasks(session, current_user.username, [household.community_id]))
    return str(waiting) if waiting else None


def service_title(version, locale: str) -> str:
    """What the resident reads: the module's own title (menu entry, zh/en), else the process id."""
    from app.i18n import pick
    from app.web.catalog import get_catalog

    module = get_catalog().get(version.module_id or "")
    return pick(module.title, locale) if module is not None else version.process_id


class ResidentServicesView(BaseView):
    route_base = "/me/services"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        from app.web.locale import current_locale

        household = require_household(db.session, current_user.id)
        services = resident_services(db.session, household.community_id) if household else []
        tasks = my_open_tasks(db.session, current_user.username, visible_community_ids())
        return self.render_template(
            "resident/services.html", household=household, tasks=tasks,
            services=[{"id": v.process_id, "title": service_title(v, current_locale())} for v in services])

    @expose("/start", methods=["POST"])
    @has_access
    @permission_name("start")
    def start(self):
        household = require_household(db.session, current_user.id)
        process_id = request.form.get("process_id", "")
        if household is None:
            flash(_("Your login is not linked to a household yet; the front desk can link it."), "warning")
            return redirect(url_for("ResidentServicesView.index"))
        try:
            instance = start_service(db.session, process_id=process_id, household=household,
                                     username=current_user.username)
            db.session.commit()
        except LookupError:
            db.session.rollback()
            flash(_("This service is not offered in your community."), "danger")
            return redirect(url_for("ResidentServicesView.index"))
        except EngineError as err:
            db.session.rollback()
            flash(_("The service could not start: %(why)s", why=str(err)), "danger")
            return redirect(url_for("ResidentServicesView.index"))
        task = first_task_for(db.session, instance.id, current_user.username)
        if task is not None:
            return redirect(url_for("InboxView.task", task_id=task.id))
        flash(_("Sent: the property office takes it from here."), "success")
        return redirect(url_for("ResidentServicesView.index"))


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(ResidentServicesView())
