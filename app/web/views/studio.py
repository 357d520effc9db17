"""The consultant's studio (issue #20): the list of drafts, the editor page and its JSON endpoints.

Thin: every decision is in :mod:`app.studio` (drafts, lint, registry, publish). Consultants and
administrators only; every other role is refused (403), read routes included.
"""
from __future__ import annotations

from flask import abort, flash, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from app.db import db
from app.i18n import pick
from app.studio import drafts, lint, publish, registry
from app.studio.drafts import DraftError
from app.web.catalog import get_catalog
from app.web.locale import current_locale


def _body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _refused(err: DraftError, status: int = 400):
    db.session.rollback()
    return jsonify(error=err.message(current_locale())), status


def _draft_or_404(module_id: str):
    return drafts.get_draft(db.session, module_id) or abort(404)


def _findings(draft) -> list[dict]:
    return lint.lint_draft(db.session, draft, current_locale())


def _to_editor(make):
    """Run ``make(catalog)`` (it returns a draft) and open the editor, or go back with the reason."""
    try:
        draft = make(get_catalog())
        db.session.commit()
    except DraftError as err:
        db.session.rollback()
        flash(err.message(current_locale()), "danger")
        return redirect(url_for("StudioView.index"))
    return redirect(url_for("StudioView.editor", module_id=draft.module_id))


def _changed(module_id: str, change, menu: bool = False):
    """Apply ``change(draft)`` (it returns the path it changed) and answer with the whole draft's
    findings, its files and file list (and the menu entry's fields for the menu form)."""
    draft = _draft_or_404(module_id)
    try:
        path = change(draft)
    except DraftError as err:
        return _refused(err)
    db.session.commit()
    extra = {"text": draft.files[path], "menu": drafts.menu_fields(draft.files[path])} if menu else {}
    return jsonify(path=path, findings=_findings(draft), files=dict(draft.files),
                   file_list=drafts.file_list(draft), **extra)


class StudioView(BaseView):
    route_base = "/studio"
    default_view = "index"
    #: reading the studio and changing a draft are two permissions (both the consultant's)
    method_permission_name = {
        "index": "access", "editor": "access", "draft": "access", "registry_api": "access",
        "diff": "access", "findings": "access",
        "new": "edit", "open_published": "edit", "discard": "edit", "save_file": "edit",
        "delete_file": "edit", "add_file": "edit", "save_menu": "edit", "check_expression": "access",
        "publish_draft": "edit",
    }

    # ------------------------------------------------------------------ pages

    @expose("/")
    @has_access
    def index(self):
        catalog = get_catalog()
        mine = {d.module_id for d in drafts.list_drafts(db.session)}
        modules = [m for m in catalog.modules.values() if m.id not in mine]
        return self.render_template("studio/index.html", drafts=drafts.list_drafts(db.session), modules=modules,
                                    catalog=catalog, pick=pick, locale=current_locale(),
                                    categories=drafts.CATEGORIES)

    @expose("/new", methods=["POST"])
    @has_access
    @permission_name("edit")
    def new(self):
        form = request.form
        return _to_editor(lambda catalog: drafts.new_draft(
            db.session, form.get("module_id", ""), form.get("name_zh", ""), form.get("name_en", ""),
            actor=current_user.username, catalog=catalog))

    @expose("/<module_id>/edit", methods=["POST"])
    @has_access
    @permission_name("edit")
    def open_published(self, module_id: str):
        return _to_editor(lambda catalog: drafts.draft_from_published(
            db.session, module_id, actor=current_user.username, catalog=catalog))

    @expose("/<module_id>/discard", methods=["POST"])
    @has_access
    @permission_name("edit")
    def discard(self, module_id: str):
        drafts.discard_draft(db.session, _draft_or_404(module_id))
        db.session.commit()
        flash(_("Draft discarded: %(m)s", m=module_id), "success")
        return redirect(url_for("StudioView.index"))

    @expose("/<module_id>/")
    @has_access
    def editor(self, module_id: str):
        draft = _draft_or_404(module_id)
        api = {name: url_for(f"StudioView.{endpoint}", module_id=module_id) for name, endpoint in (
            ("draft", "draft"), ("file", "save_file"), ("delete", "delete_file"), ("add", "add_file"),
            ("menu", "save_menu"), ("findings", "findings"), ("diff", "diff"), ("publish", "publish_draft"))}
        api["registry"] = url_for("StudioView.registry_api", module=module_id)
        api["check_expression"] = url_for("StudioView.check_expression")
        api["index"] = url_for("StudioView.index")
        api.update(_part_urls())
        data = {"module": module_id, "files": dict(draft.files or {}), "csrf": generate_csrf(),
                "lang": current_locale(), "urls": api, "base_version": draft.base_version,
                "file_list": drafts.file_list(draft)}
        menu_text = (draft.files or {}).get(drafts.menu_path(module_id), "")
        return self.render_template("studio/editor.html", draft=draft, studio_data=data,
                                    menu=drafts.menu_fields(menu_text), files=drafts.file_list(draft),
                                    findings=_findings(draft), locale=current_locale())

    # ------------------------------------------------------------------ JSON

    @expose("/api/<module_id>/draft")
    @has_access
    def draft(self, module_id: str):
        draft = _draft_or_404(module_id)
        return jsonify(files=dict(draft.files or {}), base_version=draft.base_version,
                       file_list=drafts.file_list(draft))

    @expose("/api/<module_id>/findings")
    @has_access
    def findings(self, module_id: str):
        return jsonify(findings=_findings(_draft_or_404(module_id)))

    @expose("/api/<module_id>/file", methods=["POST"])
    @has_access
    @permission_name("edit")
    def save_file(self, module_id: str):
        body = _body()
        return _changed(module_id, lambda draft: drafts.save_file(
            db.session, draft, body.get("path", ""), body.get("text"), actor=current_user.username))

    @expose("/api/<module_id>/file/delete", methods=["POST"])
    @has_access
    @permission_name("edit")
    def delete_file(self, module_id: str):
        path = _body().get("path", "")
        return _changed(module_id, lambda draft: drafts.delete_file(db.session, draft, path,
                                                                    actor=current_user.username))

    @expose("/api/<module_id>/add", methods=["POST"])
    @has_access
    @permission_name("edit")
    def add_file(self, module_id: str):
        """``{kind: "process"|"form", name}``: a new minimal process or form, listed in the menu entry."""
        body = _body()
        adder = {"process": drafts.add_process, "form": drafts.add_form}.get(body.get("kind"))
        if adder is None:
            return jsonify(error=_("Choose a process or a form.")), 400
        return _changed(module_id, lambda draft: adder(db.session, draft, body.get("name", ""),
                                                       actor=current_user.username))

    @expose("/api/<module_id>/menu", methods=["POST"])
    @has_access
    @permission_name("edit")
    def save_menu(self, module_id: str):
        """The menu form: names, descriptions and category (no YAML typed by hand)."""
        body = _body()
        return _changed(module_id, lambda draft: drafts.update_menu(db.session, draft, body,
                                                                    actor=current_user.username), menu=True)

    @expose("/api/registry")
    @has_access
    def registry_api(self):
        module_id = request.args.get("module", "")
        draft = drafts.get_draft(db.session, module_id) if module_id else None
        return jsonify(registry.registry(db.session, draft))

    @expose("/api/check-expression", methods=["POST"])
    @has_access
    @permission_name("access")
    def check_expression(self):
        return jsonify(lint.check_expression(str(_body().get("expression") or ""), current_locale()))

    @expose("/api/<module_id>/diff")
    @has_access
    def diff(self, module_id: str):
        return jsonify(publish.diff(db.session, _draft_or_404(module_id), get_catalog()))

    @expose("/api/<module_id>/publish", methods=["POST"])
    @has_access
    @permission_name("edit")
    def publish_draft(self, module_id: str):
        draft = _draft_or_404(module_id)
        outcome = publish.publish(db.session, draft, actor=current_user.username, catalog=get_catalog(),
                                  locale=current_locale())
        db.session.commit()  # a failed upload stored nothing (its savepoint is rolled back)
        if outcome.errors:
            return jsonify(errors=outcome.errors, warnings=outcome.warnings), 400
        return jsonify(version=outcome.version, bumped_from=outcome.bumped_from, warnings=outcome.warnings,
                       files=dict(draft.files), modules_url=url_for("StudioView.index"))


def _part_urls() -> dict:
    """The endpoints of the studio's other parts (forms preview, test run) that are installed."""
    from flask import current_app

    urls = {}
    for name, endpoint in (("forms_preview", "StudioFormsView.preview"), ("forms_palette", "StudioFormsView.palette")):
        if endpoint in current_app.view_functions:
            urls[name] = url_for(endpoint)
    return urls


def register(appbuilder) -> None:
    appbuilder.add_view(StudioView, "studio", label=_l("Studio"), icon="fa-pencil-square-o",
                        category="Work", category_label=_l("Work"))
