"""Consultants: deployed process versions, validate and upload (page and JSON API)."""
from __future__ import annotations

import shutil

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.api import BaseApi, protect
from flask_appbuilder.api import expose as api_expose
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from app.assets.translate import finding
from app.assets.translate import shown as shown_line
from app.db import db
from app.engine.models import ProcessInstance, ProcessVersion
from app.modules.models import ModulePackage
from app.modules.packages import check_package, read_uploads, upload_package
from app.platform.authoring import (
    check_upload,
    form_names,
    module_errors,
    split,
    upload_process,
)
from app.settings import get_settings
from app.studio.scratch import SCRATCH_PROCESS_PREFIX
from app.web.api_safety import safe
from app.web.locale import current_locale


def _read_upload(storage) -> bytes:
    limit = get_settings().bpmn_max_bytes
    return storage.read(limit + 1)


def _collect(files) -> tuple[str, bytes, dict[str, bytes]]:
    bpmn = files.get("bpmn")
    bpmn_name = bpmn.filename if bpmn else ""
    bpmn_data = _read_upload(bpmn) if bpmn else b""
    forms = {}
    for storage in files.getlist("forms"):
        if storage and storage.filename:
            forms[storage.filename] = _read_upload(storage)
    return bpmn_name, bpmn_data, forms


def _collect_package(files):
    """The ``package`` field: one zip, or every file of a module folder (multi-file picker)."""
    from app.modules.packages import MAX_TOTAL_BYTES

    uploads = []
    for storage in files.getlist("package"):
        if storage and storage.filename:
            uploads.append((storage.filename, storage.read(MAX_TOTAL_BYTES + 1)))
    return read_uploads(uploads)


def _validate(bpmn_name, bpmn_data, forms, module_id):
    """(errors, warnings) of a process upload without storing anything (the same checks as an upload)."""
    findings, scratch = check_upload(bpmn_name, bpmn_data, forms, session=db.session)
    shutil.rmtree(scratch, ignore_errors=True)
    errors, warnings = split(findings)
    return errors or module_errors(db.session, bpmn_name, bpmn_data, module_id), warnings


#: a studio test run's scratch versions are no published process (app/studio/scratch.py)
_PUBLISHED = ProcessVersion.process_id.not_like(f"{SCRATCH_PROCESS_PREFIX}%")


def _page(self, status=200, **shown):
    versions = list(db.session.scalars(
        select(ProcessVersion).where(_PUBLISHED).order_by(ProcessVersion.process_id,
                                                          ProcessVersion.version.desc())
    ))
    values = dict(versions=versions, running={}, errors=None, warnings=[], result=None, packages=_packages(),
                  package_errors=None, package_warnings=[], package_result=None)
    values.update(shown)
    locale = current_locale()  # the validator's reasons in the user's language
    for key in ("errors", "warnings", "package_errors", "package_warnings"):
        if values[key]:
            values[key] = [shown_line(e, locale) for e in values[key]]
    return self.render_template("engine/processes.html", **values), status


def _findings(errors, warnings) -> dict:
    """The API's findings: ``errors``/``warnings`` as ``estateflow validate`` prints them (English,
    stable for scripts) and ``findings`` ``{path, line, element, message, severity}`` in the caller's language."""
    locale = current_locale()
    return dict(errors=[str(e) for e in errors], warnings=[str(w) for w in warnings],
                findings=[finding(e, locale) for e in [*errors, *warnings] if hasattr(e, "reason")])


def _packages():
    return list(db.session.scalars(select(ModulePackage).order_by(ModulePackage.module_id,
                                                                  ModulePackage.id.desc())))



class ProcessDefinitionView(BaseView):
    route_base = "/processes"
    default_view = "list"
    method_permission_name = {"list": "list", "upload": "upload", "package": "upload"}

    @expose("/")
    @has_access
    def list(self):
        versions = list(db.session.scalars(
            select(ProcessVersion).where(_PUBLISHED).order_by(ProcessVersion.process_id,
                                                          ProcessVersion.version.desc())
        ))
        counts = dict(db.session.execute(
            select(ProcessInstance.version_id, func.count()).where(
                ProcessInstance.status.in_(["running", "waiting", "incident"])
            ).group_by(ProcessInstance.version_id)
        ).all())
        return self.render_template("engine/processes.html", versions=versions, running=counts,
                                    errors=None, warnings=[], result=None, packages=_packages(),
                                    package_errors=None, package_warnings=[], package_result=None)

    @expose("/upload", methods=["POST"])
    @has_access
    def upload(self):
        module_id = (request.form.get("module_id") or "").strip() or None
        bpmn_name, bpmn_data, forms = _collect(request.files)
        forms = form_names(forms, module_id)
        if not bpmn_name:
            flash(_("Choose a BPMN file."), "danger")
            return redirect(url_for("ProcessDefinitionView.list"))
        if request.form.get("validate_only"):
            errors, warnings = _validate(bpmn_name, bpmn_data, forms, module_id)
            result = None
        else:
            outcome = upload_process(db.session, bpmn_name=bpmn_name, bpmn_data=bpmn_data, forms=forms,
                                     module_id=module_id, actor=current_user.username)
            errors, warnings, result = outcome.errors, outcome.warnings, outcome
            if errors:
                db.session.rollback()
            else:
                db.session.commit()
        return _page(self, 422 if errors else 200, errors=errors, warnings=warnings, result=result)

    @expose("/package", methods=["POST"])
    @has_access
    def package(self):
        """A module package (zip or the files of a module folder): validate, or store it."""
        files, errors = _collect_package(request.files)
        result, warnings = None, []
        if not files and not errors:
            flash(_("Choose a module package (zip) or the files of a module folder."), "danger")
            return redirect(url_for("ProcessDefinitionView.list"))
        if not errors:
            if request.form.get("validate_only"):
                check = check_package(files, session=db.session)
                errors, warnings, result = check.errors, check.warnings, check
            else:
                outcome = upload_package(db.session, files, actor=current_user.username)
                errors, warnings, result = outcome.errors, outcome.warnings, outcome
                if errors:
                    db.session.rollback()
                else:
                    db.session.commit()
        return _page(self, 422 if errors else 200, package_errors=errors, package_warnings=warnings,
                     package_result=result)


class ProcessApi(BaseApi):
    """``POST /api/v1/processes/upload`` and ``/validate``: multipart ``bpmn`` + ``forms``."""

    resource_name = "processes"
    allow_browser_login = True
    method_permission_name = {"upload_api": "upload", "validate_api": "validate",
                              "package_upload_api": "upload", "package_validate_api": "validate"}

    @api_expose("/validate", methods=["POST"])
    @protect()
    @safe
    def validate_api(self):
        bpmn_name, bpmn_data, forms = _collect(request.files)
        module_id = (request.form.get("module_id") or "").strip() or None
        errors, warnings = _validate(bpmn_name or "upload.bpmn", bpmn_data, form_names(forms, module_id), module_id)
        return self.response(200 if not errors else 422, **_findings(errors, warnings))

    @api_expose("/upload", methods=["POST"])
    @protect()
    @safe
    def upload_api(self):
        bpmn_name, bpmn_data, forms = _collect(request.files)
        module_id = (request.form.get("module_id") or "").strip() or None
        outcome = upload_process(db.session, bpmn_name=bpmn_name or "upload.bpmn", bpmn_data=bpmn_data,
                                 forms=form_names(forms, module_id), module_id=module_id,
                                 actor=current_user.username)
        warnings = [str(w) for w in outcome.warnings]
        if outcome.errors:
            db.session.rollback()
            return self.response(422, **_findings(outcome.errors, outcome.warnings))
        db.session.commit()
        return self.response(201, process_id=outcome.version.process_id, version=outcome.version.version,
                             module_id=module_id, module_version=outcome.module_version, forms=outcome.forms,
                             warnings=warnings)

    @api_expose("/package/validate", methods=["POST"])
    @protect()
    @safe
    def package_validate_api(self):
        """Multipart ``package``: one zip or the files of a module folder."""
        files, errors = _collect_package(request.files)
        warnings = []
        if not errors:
            check = check_package(files, session=db.session)
            errors, warnings = check.errors, check.warnings
        return self.response(200 if not errors else 422, **_findings(errors, warnings))

    @api_expose("/package/upload", methods=["POST"])
    @protect()
    @safe
    def package_upload_api(self):
        files, errors = _collect_package(request.files)
        if errors:
            return self.response(422, **_findings(errors, []))
        outcome = upload_package(db.session, files, actor=current_user.username)
        warnings = [str(w) for w in outcome.warnings]
        if outcome.errors:
            db.session.rollback()
            return self.response(422, **_findings(outcome.errors, outcome.warnings))
        db.session.commit()
        return self.response(201 if outcome.created else 200, module_id=outcome.package.module_id,
                             version=outcome.package.version, created=outcome.created,
                             processes={v.process_id: v.version for v in outcome.processes}, warnings=warnings)


def register(appbuilder) -> None:
    from flask_babel import lazy_gettext as _l

    appbuilder.add_view(ProcessDefinitionView, "processes", label=_l("Processes and forms"),
                        icon="fa-sitemap", category="Work", category_label=_l("Work"))
    appbuilder.add_api(ProcessApi)
