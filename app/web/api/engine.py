"""``/api/v1/inbox``, ``/api/v1/tasks``, ``/api/v1/instances``: the workflow engine as JSON.

The same rules as the pages (``app.web.views.inbox`` / ``instances``): a task is visible when it is
in one of the caller's communities and either theirs or in one of their pools; anything else is 404
(no existence leak). Completing runs the task's YAML form through ``parse_submission``, so a JSON
client gets exactly the page's validation, field by field.
"""
from __future__ import annotations

from flask_appbuilder.api import expose, protect
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from app.db import db
from app.engine import claim_task, complete_task, get_task, instance_history, task_data, unclaim_task
from app.engine.errors import ConcurrentUpdate, EngineError, ProcessNotFound, TaskNotFound, TaskNotOpen
from app.engine.models import ProcessInstance, TaskRow
from app.forms import jsonable, parse_submission
from app.forms.definitions import FormDef, localized
from app.forms.references import reference_options
from app.forms.versions import form_for_task
from app.platform.processes import ProcessNotAllowed, start_process
from app.platform.uploads import grant_uploads, upload_refs
from app.security.scope import is_platform_admin, visible_community_ids
from app.web.api import (
    FIELDS_MESSAGE,
    ApiBase,
    community_scope,
    ApiError,
    PageArgs,
    actor,
    api_safe,
    doc,
    form_submission,
    load_args,
    load_json,
    not_found,
    page_schema,
    paged,
)
from app.web.catalog import get_forms
from app.web.locale import current_locale
from app.web.views.inbox import user_role_keys
from app.web.views.uploads import check_form_uploads

OPEN = ("ready", "claimed")


# --- schemas --------------------------------------------------------------------------------------
class TaskSchema(Schema):
    id = fields.Int(required=True)
    instance_id = fields.Int(required=True)
    community_id = fields.Int(required=True)
    element_id = fields.Str(required=True)
    title = fields.Str(allow_none=True)
    role = fields.Str(allow_none=True)
    assignee = fields.Str(allow_none=True)
    form_id = fields.Str(allow_none=True)
    status = fields.Str(required=True, metadata={"enum": ["ready", "claimed", "completed", "cancelled"]})
    business_key = fields.Str(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(allow_none=True)
    claimed_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)


class InboxArgs(PageArgs):
    order = fields.Str(load_default="due", validate=validate.OneOf(["due", "created"]))
    community_id = fields.Int(validate=validate.Range(min=1))
    mine = fields.Bool(load_default=False, metadata={"description": "only tasks claimed by / assigned to me"})


class FieldSchema(Schema):
    name = fields.Str(required=True)
    type = fields.Str(required=True)
    label = fields.Str(required=True)
    required = fields.Bool()
    help = fields.Str(allow_none=True)
    default = fields.Raw(allow_none=True)
    visible_if = fields.Str(allow_none=True)
    choices = fields.List(fields.Dict())
    options = fields.List(fields.Dict(), metadata={"description": "records a reference field may name"})
    min = fields.Raw(allow_none=True)
    max = fields.Raw(allow_none=True)
    min_length = fields.Int(allow_none=True)
    max_length = fields.Int(allow_none=True)
    pattern = fields.Str(allow_none=True)
    min_files = fields.Int(allow_none=True)
    max_files = fields.Int(allow_none=True)
    max_bytes = fields.Int(allow_none=True)
    accept = fields.List(fields.Str())


class FormSchema(Schema):
    id = fields.Str(required=True)
    title = fields.Str(required=True)
    description = fields.Str(allow_none=True)
    fields_ = fields.List(fields.Nested(FieldSchema), data_key="fields", required=True)
    context = fields.List(fields.Dict(), metadata={"description": "read-only values shown above the fields"})


class TaskDetailSchema(Schema):
    task = fields.Nested(TaskSchema, required=True)
    form = fields.Nested(FormSchema, allow_none=True)
    values = fields.Dict(metadata={"description": "defaults and earlier answers, by field name"})
    instance_version = fields.Int(metadata={"description": "send back as `_version` when completing"})
    editable = fields.Bool()


class CompleteSchema(Schema):
    class Meta:
        unknown = "include"

    _version = fields.Int(metadata={"description": "instance_version read with the task (optional)"})


class InstanceSchema(Schema):
    id = fields.Int(required=True)
    process_id = fields.Str(required=True)
    community_id = fields.Int(required=True)
    business_key = fields.Str(allow_none=True)
    status = fields.Str(required=True)
    started_at = fields.DateTime(allow_none=True)
    started_by = fields.Str(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    lock_version = fields.Int()
    open_tasks = fields.List(fields.Nested(TaskSchema))


class InstanceArgs(PageArgs):
    community_id = fields.Int(validate=validate.Range(min=1))
    status = fields.Str(validate=validate.OneOf(["running", "waiting", "completed", "incident", "cancelled"]))
    process_id = fields.Str(validate=validate.Length(max=200))


class StartSchema(Schema):
    community_id = fields.Int(required=True, validate=validate.Range(min=1))
    process_id = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    business_key = fields.Str(allow_none=True, validate=validate.Length(max=120))


class HistorySchema(Schema):
    instance = fields.Dict()
    tasks = fields.List(fields.Dict())
    incidents = fields.List(fields.Dict())
    completed_elements = fields.List(fields.Str())
    notes = fields.List(fields.Dict())
    notifications = fields.List(fields.Dict())


TaskPage = page_schema(TaskSchema, "TaskPage")
InstancePage = page_schema(InstanceSchema, "InstancePage")


# --- helpers --------------------------------------------------------------------------------------
def _task_json(row: TaskRow) -> dict:
    title = row.title_en if current_locale() == "en" and row.title_en else row.title
    return {"id": row.id, "instance_id": row.instance_id, "community_id": row.community_id,
            "element_id": row.element_id, "title": title, "role": row.role, "assignee": row.assignee,
            "form_id": row.form_id, "status": row.status, "business_key": row.business_key,
            "due_at": _iso(row.due_at), "created_at": _iso(row.created_at),
            "claimed_at": _iso(row.claimed_at), "completed_at": _iso(row.completed_at)}


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def visible_task(task_id: int) -> TaskRow:
    """The task if this caller may act on it (the inbox page's rule); 404 otherwise."""
    try:
        row = get_task(db.session, task_id)
    except TaskNotFound:
        raise not_found() from None
    if row.community_id not in visible_community_ids():
        raise not_found()
    if not (row.assignee == current_user.username or row.role in user_role_keys() or is_platform_admin()):
        raise not_found()
    return row


def form_json(form: FormDef, locale: str, options: dict | None = None, context: dict | None = None) -> dict:
    """A YAML form as JSON for a client that draws its own widgets (labels in ``locale``)."""
    out = []
    for f in form.fields:
        item = {"name": f.name, "type": f.type, "label": localized(f.label, locale), "required": f.required,
                "help": localized(f.help, locale) or None, "default": f.default, "visible_if": f.visible_if,
                "choices": [{"value": c.value, "label": localized(c.label, locale)} for c in f.choices],
                "min": f.min, "max": f.max, "min_length": f.min_length, "max_length": f.max_length,
                "pattern": f.pattern, "min_files": f.min_files, "max_files": f.max_files,
                "max_bytes": f.max_bytes, "accept": list(f.accepted_types) if f.is_upload else []}
        if options and f.name in options:
            item["options"] = [{"value": v, "label": label} for v, label in options[f.name]]
        out.append(item)
    ctx = [{"name": c.name, "label": localized(c.label, locale), "type": c.type,
            "value": (context or {}).get(c.name)} for c in form.context]
    return jsonable({"id": form.id, "title": localized(form.title, locale),
                     "description": localized(form.description, locale) or None, "fields": out, "context": ctx})


def _instance_json(instance: ProcessInstance) -> dict:
    tasks = db.session.scalars(select(TaskRow).where(TaskRow.instance_id == instance.id,
                                                     TaskRow.status.in_(OPEN)).order_by(TaskRow.id))
    return {"id": instance.id, "process_id": instance.process_id, "community_id": instance.community_id,
            "business_key": instance.business_key, "status": instance.status,
            "started_at": _iso(instance.started_at), "started_by": instance.started_by,
            "ended_at": _iso(instance.ended_at), "lock_version": instance.lock_version,
            "open_tasks": [_task_json(t) for t in tasks]}


def _visible_instance(instance_id: int) -> ProcessInstance:
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None or instance.community_id not in visible_community_ids():
        raise not_found()
    return instance


# --- inbox ----------------------------------------------------------------------------------------
class InboxApi(ApiBase):
    """``/api/v1/inbox``: my open tasks; claim and release."""

    resource_name = "inbox"
    method_permission_name = {"list_tasks": "get", "claim": "claim", "release": "release"}

    @expose("/", methods=["GET"])
    @protect()
    @api_safe
    @doc("My open tasks (pools and claimed)", tags=["Tasks"], query=InboxArgs, response=TaskPage,
         etag=True, errors=(400, 401, 403))
    def list_tasks(self):
        args = load_args(InboxArgs())
        ids = community_scope(args)
        me = current_user.username
        query = select(TaskRow).where(TaskRow.community_id.in_(ids), TaskRow.status.in_(OPEN))
        mine = TaskRow.assignee == me
        if args["mine"]:
            query = query.where(mine)
        else:
            from sqlalchemy import and_, or_

            query = query.where(or_(mine, and_(TaskRow.status == "ready", TaskRow.role.in_(user_role_keys()))))
        if args["order"] == "due":
            query = query.order_by(TaskRow.due_at.is_(None), TaskRow.due_at, TaskRow.id)
        else:
            query = query.order_by(TaskRow.id.desc())
        return self.ok(paged(query, db.session, args, _task_json), etag=True)

    @expose("/<int:task_id>/claim", methods=["POST"])
    @protect()
    @api_safe
    @doc("Claim a task from a pool", tags=["Tasks"], response=TaskSchema, errors=(401, 403, 404, 409))
    def claim(self, task_id: int):
        row = visible_task(task_id)
        try:
            row = claim_task(db.session, row.id, current_user.username, roles=user_role_keys() or None)
        except TaskNotOpen as err:
            raise ApiError(409, _("This task was already taken: %(why)s", why=str(err))) from err
        db.session.commit()
        return self.ok(_task_json(row))

    @expose("/<int:task_id>/release", methods=["POST"])
    @protect()
    @api_safe
    @doc("Give a claimed task back to its pool", tags=["Tasks"], response=TaskSchema,
         errors=(401, 403, 404, 409))
    def release(self, task_id: int):
        row = visible_task(task_id)
        try:
            row = unclaim_task(db.session, row.id, current_user.username)
        except TaskNotOpen as err:
            raise ApiError(409, str(err)) from err
        db.session.commit()
        return self.ok(_task_json(row))


# --- one task -------------------------------------------------------------------------------------
class TaskApi(ApiBase):
    """``/api/v1/tasks/<id>``: the form and context of a task; complete it."""

    resource_name = "tasks"
    method_permission_name = {"read": "get", "complete": "complete"}

    def _form(self, row: TaskRow) -> tuple[ProcessInstance, FormDef | None]:
        instance = db.session.get(ProcessInstance, row.instance_id)
        return instance, form_for_task(db.session, instance.version_id, row.form_id, get_forms())

    @expose("/<int:task_id>", methods=["GET"])
    @protect()
    @api_safe
    @doc("A task with its form definition and context", tags=["Tasks"], response=TaskDetailSchema,
         errors=(401, 403, 404))
    def read(self, task_id: int):
        row = visible_task(task_id)
        instance, form = self._form(row)
        context = task_data(db.session, row.id) if row.status in OPEN else (row.data or {})
        locale = current_locale()
        values = {}
        payload_form = None
        if form is not None:
            values = {f.name: f.default for f in form.fields if f.default is not None}
            values.update({f.name: context[f.name] for f in form.fields
                           if context.get(f.name) not in (None, "")})
            options = reference_options(form, session=db.session, community_id=row.community_id)
            payload_form = form_json(form, locale, options, context)
        return self.ok({"task": _task_json(row), "form": payload_form, "values": jsonable(values),
                        "instance_version": instance.lock_version,
                        "editable": row.status == "ready" or (row.status == "claimed"
                                                              and row.assignee == current_user.username)})

    @expose("/<int:task_id>/complete", methods=["POST"])
    @protect()
    @api_safe
    @doc("Complete a task (a ready task of my pool is claimed first)", tags=["Tasks"], body=CompleteSchema,
         response=InstanceSchema,
         description="JSON object of the form's fields (files as references from an earlier upload), or "
                     "multipart/form-data with files. 422 lists the problems per field.",
         errors=(400, 401, 403, 404, 409, 422))
    def complete(self, task_id: int):
        row = visible_task(task_id)
        instance, form = self._form(row)
        if form is None:
            raise ApiError(409, _("The form %(form)s of this task is missing or broken.", form=row.form_id))
        if row.status not in OPEN:
            raise ApiError(409, _("This task is no longer open."))
        if row.status == "claimed" and row.assignee != current_user.username:
            raise ApiError(409, _("This task is claimed by someone else."))
        submitted, files = form_submission()
        expected = submitted.get("_version")
        if expected is not None and not str(expected).lstrip("-").isdigit():
            raise ApiError(422, FIELDS_MESSAGE(), {"_version": [_("Not a valid integer.")]})
        # the workflow's data matters only for files (earlier uploads, the household they belong to)
        context = task_data(db.session, row.id) if any(f.is_upload for f in form.fields) else {}
        stored: list[dict] = []
        data, errors, raw = parse_submission(form, submitted, files, session=db.session,
                                             community_id=row.community_id, locale=current_locale(),
                                             on_store=stored.append)
        data, errors = check_form_uploads(data, errors, raw, stored, scope=f"task:{row.id}",
                                          community_id=row.community_id,
                                          existing=[r["sha256"] for r in upload_refs(context)])
        if errors:
            raise ApiError(422, FIELDS_MESSAGE(), errors)
        try:
            if row.status == "ready":
                claim_task(db.session, row.id, current_user.username, roles=user_role_keys() or None)
            household_id = context.get("household_id")
            grant_uploads(db.session, jsonable(data), row.community_id, current_user.username,
                          household_id=household_id if isinstance(household_id, int) else None)
            done = complete_task(db.session, row.id, jsonable(data), current_user.username,
                                 expected_instance_version=int(expected) if expected is not None else None)
        except (ConcurrentUpdate, TaskNotOpen) as err:
            raise ApiError(409, _("Someone else changed this task first; nothing of yours was saved. (%(why)s)", why=str(err))) from err
        except EngineError as err:
            raise ApiError(422, str(err), {"_form": [str(err)]}) from err
        db.session.commit()
        return self.ok(_instance_json(done))


# --- instances ------------------------------------------------------------------------------------
class InstanceApi(ApiBase):
    """``/api/v1/instances``: start a process, read an instance and its history."""

    resource_name = "instances"
    method_permission_name = {"list_instances": "get", "read": "get", "history": "get", "start": "start"}

    @expose("/", methods=["GET"])
    @protect()
    @api_safe
    @doc("Process instances of my communities", tags=["Processes"], query=InstanceArgs,
         response=InstancePage, errors=(400, 401, 403, 404))
    def list_instances(self):
        args = load_args(InstanceArgs())
        ids = community_scope(args)
        query = select(ProcessInstance).where(ProcessInstance.community_id.in_(ids))
        if args.get("status"):
            query = query.where(ProcessInstance.status == args["status"])
        if args.get("process_id"):
            query = query.where(ProcessInstance.process_id == args["process_id"])
        return self.ok(paged(query.order_by(ProcessInstance.id.desc()), db.session, args, _instance_json))

    @expose("/", methods=["POST"])
    @protect()
    @api_safe
    @doc("Start a process in one of my communities", tags=["Processes"], body=StartSchema,
         response=InstanceSchema, status=201, errors=(400, 401, 403, 404, 422))
    def start(self):
        body = load_json(StartSchema())
        if body["community_id"] not in visible_community_ids():
            raise not_found()
        try:
            instance = start_process(db.session, community_id=body["community_id"], process_id=body["process_id"],
                                     actor=actor(), business_key=body.get("business_key") or None)
        except ProcessNotFound as err:
            raise ApiError(422, str(err), {"process_id": [str(err)]}) from err
        except ProcessNotAllowed as err:
            msg = err.message(current_locale())
            raise ApiError(422, msg, {"process_id": [msg]}) from err
        except EngineError as err:
            raise ApiError(422, str(err), {"_form": [str(err)]}) from err
        db.session.commit()
        return self.ok(_instance_json(instance), status=201)

    @expose("/<int:instance_id>", methods=["GET"])
    @protect()
    @api_safe
    @doc("One instance with its open tasks", tags=["Processes"], response=InstanceSchema, errors=(401, 403, 404))
    def read(self, instance_id: int):
        return self.ok(_instance_json(_visible_instance(instance_id)))

    @expose("/<int:instance_id>/history", methods=["GET"])
    @protect()
    @api_safe
    @doc("What happened in an instance: tasks, incidents, notes", tags=["Processes"], response=HistorySchema,
         errors=(401, 403, 404))
    def history(self, instance_id: int):
        _visible_instance(instance_id)
        return self.ok(jsonable(instance_history(db.session, instance_id)))


API_CLASSES = (InboxApi, TaskApi, InstanceApi)
