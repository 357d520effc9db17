"""Process instances of a community: list, start, detail with diagram, history, incidents."""
from __future__ import annotations

import re

from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.db import db
from app.engine import instance_history, retry_incident
from app.engine.errors import EngineError
from app.engine.models import Incident, ProcessInstance, ProcessVersion
from app.domains.estate.models import Community
from app.security.scope import require_community
from app.platform.processes import ProcessNotAllowed, start_process, startable_processes
from app.web.locale import current_locale as _locale



def model_file_response(text: str | bytes, filename: str) -> Response:
    """Serve an uploaded model file (BPMN, form or other source text) so no browser runs it.

    A consultant writes these files and an admin opens them: as ``application/xml`` an XHTML
    ``<h:script>`` inside a BPMN ran in the admin's session. Here it is text, downloaded, not
    sniffed, and under a CSP that allows nothing even if some browser rendered it.
    """
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("._") or "model.txt"
    return Response(text, mimetype="text/plain", headers={
        "Content-Disposition": f'attachment; filename="{safe_name}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    })


def _instance(instance_id: int) -> ProcessInstance:
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None:
        abort(404)
    require_community(instance.community_id)
    return instance


class InstanceView(BaseView):
    route_base = "/instances"
    default_view = "index"

    @expose("/<int:community_id>/")
    @has_access
    def index(self, community_id: int):
        require_community(community_id)
        status = request.args.get("status")
        query = select(ProcessInstance).where(ProcessInstance.community_id == community_id)
        if status:
            query = query.where(ProcessInstance.status == status)
        instances = list(db.session.scalars(query.order_by(ProcessInstance.id.desc()).limit(200)))
        return self.render_template(
            "engine/instances.html", community=db.session.get(Community, community_id),
            instances=instances, status=status,
            processes=startable_processes(db.session, community_id),
        )

    @expose("/<int:community_id>/start", methods=["POST"])
    @has_access
    def start(self, community_id: int):
        require_community(community_id)
        process_id = request.form.get("process_id", "")
        business_key = request.form.get("business_key") or None
        try:
            instance = start_process(db.session, community_id=community_id, process_id=process_id,
                                     actor=current_user.username, business_key=business_key)
            db.session.commit()
        except ProcessNotAllowed as err:
            db.session.rollback()
            flash(err.message(_locale()), "danger")
            return redirect(url_for("InstanceView.index", community_id=community_id))
        except EngineError as err:
            db.session.rollback()
            flash(str(err), "danger")
            return redirect(url_for("InstanceView.index", community_id=community_id))
        flash(_("Started %(process)s #%(id)s", process=process_id, id=instance.id), "success")
        return redirect(url_for("InstanceView.show", instance_id=instance.id))

    @expose("/show/<int:instance_id>")
    @has_access
    def show(self, instance_id: int):
        instance = _instance(instance_id)
        history = instance_history(db.session, instance_id)
        return self.render_template("engine/instance.html", instance=instance, history=history)

    @expose("/bpmn/<int:instance_id>")
    @has_access
    def bpmn(self, instance_id: int):
        """The instance's BPMN as a plain-text download (the diagram fetches it with fetch())."""
        instance = _instance(instance_id)
        version = db.session.get(ProcessVersion, instance.version_id)
        return model_file_response(version.bpmn, f"{version.process_id}-v{version.version}.bpmn")

    @expose("/incident/<int:incident_id>/retry", methods=["POST"])
    @has_access
    def retry(self, incident_id: int):
        incident = db.session.get(Incident, incident_id)
        if incident is None:
            abort(404)
        require_community(incident.community_id)
        try:
            retry_incident(db.session, incident_id, current_user.username)
            db.session.commit()
            flash(_("Retried."), "success")
        except EngineError as err:
            db.session.rollback()
            flash(str(err), "danger")
        return redirect(url_for("InstanceView.show", instance_id=incident.instance_id))


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(InstanceView())
