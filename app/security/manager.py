"""Our Flask-AppBuilder security manager.

* Menu entries follow view permissions: FAB shows a menu entry only with a separate
  ``menu_access`` permission. Roles here are declared as (view, permission) regexes, so a menu
  entry is shown exactly when the user may open the view behind it (a category when any of its
  entries is shown): one source of truth, no second list of menu names to keep in sync.
* Login lockout per account and per address (``app.security.lockout``), for the login form and
  the JWT login ``/api/v1/security/login`` alike.
* Per-user token version (``app.security.tokens``): stamped into the session and every JWT at
  login, checked on each request; logout and password change bump it.
* Logout is a POST (a GET cannot sign anybody out from another site).
"""
from __future__ import annotations

from flask import current_app, flash, has_request_context, redirect, request, session
from flask_appbuilder.api import safe
from flask_appbuilder.security.api import SecurityApi as FabSecurityApi
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import AuthDBView as FabAuthDBView
from flask_appbuilder.views import expose
from flask_babel import gettext as _
from flask_login import current_user, user_logged_in

from app.security import access_cache, lockout, tokens, user_cache


def _settings():
    return current_app.config["ESTATEFLOW_SETTINGS"]


def _address() -> str | None:
    return request.remote_addr if has_request_context() else None


def _locked_message(locked: lockout.Lockout) -> str:
    minutes = max(1, (locked.retry_after + 59) // 60)
    return _("Too many failed logins. Try again in %(minutes)d minutes.", minutes=minutes)


class AuthDBView(FabAuthDBView):
    """FAB's database login with the lockout checked first, and logout by POST only."""

    @expose("/login/", methods=["GET", "POST"])
    def login(self):
        if request.method == "POST":
            locked = self.appbuilder.sm.login_lockout(request.form.get("username"))
            if locked is not None:
                flash(_locked_message(locked), "danger")
                response = redirect(self.appbuilder.get_url_for_login)
                response.status_code = 303
                response.headers["Retry-After"] = str(locked.retry_after)
                return response
        return super().login()

    @expose("/logout/", methods=["POST"])
    def logout(self):
        if current_user.is_authenticated:
            self.appbuilder.sm.invalidate_tokens(current_user.id)
        response = super().logout()
        session.clear()
        return response


class SecurityApi(FabSecurityApi):
    """``/api/v1/security/login`` with the same lockout as the login form (429 while locked)."""

    @expose("/login", methods=["POST"])
    @safe
    def login(self):
        payload = request.get_json(silent=True)
        if isinstance(payload, dict) and payload.get("provider") != "db":
            return self.response_400(message="provider: must be \"db\"")  # FAB's own answer was a 500
        username = payload.get("username") if isinstance(payload, dict) else None
        locked = self.appbuilder.sm.login_lockout(username if isinstance(username, str) else None)
        if locked is not None:
            response = self.response(429, message=_locked_message(locked))
            response.headers["Retry-After"] = str(locked.retry_after)
            return response
        return super().login()


class EstateflowSecurityManager(SecurityManager):
    authdbview = AuthDBView
    security_api = SecurityApi
    # FAB's "User's Statistics" page loads Google Charts from a CDN (blocked in mainland China,
    # dead offline); the BI dashboard (app/domains/dashboard) is the chart page instead.
    userstatschartview = None

    def __init__(self, appbuilder) -> None:
        super().__init__(appbuilder)
        access_cache.clear_when_roles_change(
            (self.role_model, self.permission_model, self.viewmenu_model, self.permissionview_model))
        from app.domains.estate.models import UserCommunity

        user_cache.install(self.user_model, self.role_model, self.group_model, UserCommunity)

    # --- menus follow permissions -------------------------------------------------------------
    def has_access(self, permission_name: str, view_name: str) -> bool:
        if permission_name == "menu_access":
            item = self._find_menu_item(view_name)
            if item is not None:
                return self._menu_item_visible(item)
        return super().has_access(permission_name, view_name)

    def _find_menu_item(self, name: str, items=None):
        items = self.appbuilder.menu.get_list() if items is None else items
        for item in items:
            if item.name == name:
                return item
            if item.childs:
                found = self._find_menu_item(name, item.childs)
                if found is not None:
                    return found
        return None

    def _menu_item_visible(self, item) -> bool:
        if item.childs:
            return any(self._menu_item_visible(child) for child in item.childs if child.name != "-")
        view = item.baseview
        if view is None:
            return super().has_access("menu_access", item.name)
        return super().has_access(f"can_{view.default_view}", view.class_permission_name)

    def is_item_public(self, permission_name: str, view_name: str) -> bool:
        """FAB queries the Public role's permissions on every protected request (API v1 included):
        the answer is kept like the others (cleared when roles change)."""
        return access_cache.permissions.get_or_compute(
            ("public", permission_name, view_name),
            lambda: super(EstateflowSecurityManager, self).is_item_public(permission_name, view_name))

    def _has_view_access(self, user, permission_name: str, view_name: str) -> bool:
        """FAB's check (regexes of the built-in roles, then a query for roles kept in the
        database), answered per role set from a short-lived cache (app/security/access_cache.py)."""
        roles = tuple(sorted((role.id, role.name) for role in self.get_user_roles(user)))
        return access_cache.permissions.get_or_compute(
            (roles, permission_name, view_name),
            lambda: super(EstateflowSecurityManager, self)._has_view_access(user, permission_name, view_name))

    # --- login lockout ------------------------------------------------------------------------
    def login_lockout(self, username: str | None) -> lockout.Lockout | None:
        return lockout.check(self.session, _settings(), username, _address())

    def auth_user_db(self, username, password):
        settings = _settings()
        if lockout.check(self.session, settings, username, _address()) is not None:
            return None  # locked: the password is not even looked at
        user = super().auth_user_db(username, password)
        if user is None:
            lockout.record_failure(self.session, settings, username, _address())
        else:
            lockout.record_success(self.session, username)
        return user

    # --- token version: sessions and JWTs -----------------------------------------------------
    def create_login_manager(self, app):
        lm = super().create_login_manager(app)
        real_app = app._get_current_object() if hasattr(app, "_get_current_object") else app
        user_logged_in.connect(_stamp_session, real_app)  # FAB passes the current_app proxy
        return lm

    def create_jwt_manager(self, app):
        jwt_manager = super().create_jwt_manager(app)

        @jwt_manager.additional_claims_loader
        def _claims(identity):
            try:
                return {tokens.CLAIM: tokens.current_version(self.session, int(identity))}
            except (TypeError, ValueError):
                return {}

        _cache_decoded_tokens(jwt_manager)
        return jwt_manager

    def load_user(self, pk):
        """The session cookie's user: one query when this process has a current copy of it
        (``app.security.user_cache``); a stale token version means signed out."""
        if not has_request_context():
            return super().load_user(pk)
        try:
            user, state = user_cache.load(self.session, self.user_model, int(pk))
        except (TypeError, ValueError):
            return None
        if user is None or session.get(tokens.SESSION_KEY) != state.version:
            return None  # signed out elsewhere, or password changed: this cookie is stale
        return user

    def load_user_jwt(self, _jwt_header, jwt_data):
        from flask import g

        try:
            user, state = user_cache.load(self.session, self.user_model, int(jwt_data["sub"]))
        except (KeyError, TypeError, ValueError):
            return None
        if user is None or jwt_data.get(tokens.CLAIM) != state.version:
            return None  # flask-jwt-extended answers 401
        g.user = user
        return user

    def invalidate_tokens(self, user_id: int) -> int:
        """End every session and token of this user (all browsers, API clients, processes)."""
        version = tokens.bump(self.session, user_id)
        self.session.commit()
        return version

    def reset_password(self, userid, password):
        super().reset_password(userid, password)
        version = self.invalidate_tokens(int(userid))
        if has_request_context() and current_user.is_authenticated and current_user.id == int(userid):
            session[tokens.SESSION_KEY] = version  # the person who changed it stays signed in here


def _cache_decoded_tokens(jwt_manager, size: int = 4096) -> None:
    """flask-jwt-extended decodes a Bearer token four times per request (PyJWT checks every
    base64 character in Python: ~0.5 ms each). A token that decoded once decodes the same until it
    expires, so its claims are kept (per token text) until ``exp``; an expired or bad token is
    always decoded again and answered as before (401/422)."""
    import time as _time

    decode = jwt_manager._decode_jwt_from_config
    kept: dict = {}

    def cached(encoded_token, csrf_value=None, allow_expired: bool = False):
        key = (encoded_token, csrf_value, allow_expired)
        hit = kept.get(key)
        if hit is not None and (allow_expired or hit.get("exp", 0) > _time.time()):
            return dict(hit)
        claims = decode(encoded_token, csrf_value, allow_expired)
        if len(kept) >= size:
            kept.clear()
        kept[key] = dict(claims)
        return claims

    jwt_manager._decode_jwt_from_config = cached


def _stamp_session(sender, user, **extra) -> None:
    sm = sender.appbuilder.sm
    session[tokens.SESSION_KEY] = tokens.current_version(sm.session, user.id)
