"""The ``estateflow`` command: init, demo, serve, worker, validate, module, import, simulate, and the
commands the domains add (``billing run``)."""
from __future__ import annotations

import sys
from pathlib import Path

import click


class _Commands(click.Group):
    """Every command answers a database that is down, unknown, refusing us or not migrated with
    one line and exit code 2, never a driver traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from app.dbcheck import describe
            from app.settings import get_settings

            line = describe(exc, get_settings().database_url)
            if line is None:
                raise
            click.echo(f"estateflow: {line}", err=True)
            ctx.exit(2)


@click.group(cls=_Commands)
def main() -> None:
    """estateflow — smart property management on a workflow engine."""


def _require_current_schema() -> None:
    """Refuse to serve or work on a database this version has not migrated (one clear line)."""
    from app.dbcheck import schema_problem
    from app.settings import get_settings

    problem = schema_problem(get_settings().database_url)
    if problem:
        click.echo(f"estateflow: {problem}", err=True)
        sys.exit(2)


def _app(host: str | None = None, port: int | None = None):
    """The web app; ``estateflow demo``/``serve`` pass their address, which becomes the public
    base URL (payment callbacks, receipt links) unless ESTATEFLOW_PUBLIC_BASE_URL is set."""
    from app.security.http import legacy_base_url
    from app.settings import get_settings
    from app.web import create_app

    settings = get_settings()
    if host is not None and not (settings.public_base_url or legacy_base_url()):
        shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        settings = settings.model_copy(update={"public_base_url": f"http://{shown}:{port}"})
    return create_app(settings=settings)


@main.command()
@click.option("--demo/--no-demo", default=False, help="Also load the demo estate and logins.")
def init(demo: bool) -> None:
    """Create or migrate the database (alembic), then create roles."""
    from app.bootstrap import initialise

    logins = initialise(with_demo=demo)
    click.echo("database ready")
    if logins:
        _print_logins(logins)


def _print_logins(logins) -> None:
    click.echo("demo logins (user / password / role / community):")
    for login in logins:
        click.echo(f"  {login.username:<14} {login.password:<9} {login.role:<11} {login.community}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--simulators/--no-simulators", default=True, help="Start simulated devices and a broker.")
def demo(host: str, port: int, simulators: bool) -> None:
    """Set up everything (SQLite, demo data, simulated devices) and run the web app."""
    from app.bootstrap import initialise, start_background_services

    logins = initialise(with_demo=True)
    handles = start_background_services(simulators=simulators)
    click.echo("")
    click.echo(f"estateflow demo running at http://{host}:{port}/")
    _print_logins(logins)
    try:
        _app(host, port).run(host=host, port=port, threaded=True, use_reloader=False,
                             request_handler=_request_handler())
    finally:
        for handle in reversed(handles):
            handle()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the web app under gunicorn (ESTATEFLOW_WEB_WORKERS processes of ESTATEFLOW_WEB_THREADS
    threads); deploy/ puts nginx in front."""
    from app.serving import serve as run_server
    from app.settings import get_settings

    _require_current_schema()
    settings = get_settings()
    click.echo(f"estateflow serving at http://{host}:{port}/ ({settings.web_workers} processes × "
               f"{settings.web_threads} threads)")
    run_server(lambda: _app(host, port), host, port, settings.web_workers, settings.web_threads,
               settings.web_timeout_seconds)


def _request_handler():
    from app.security.http import bannerless_request_handler

    return bannerless_request_handler()


@main.command()
@click.option("--once", is_flag=True, help="Run one sweep and exit.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between sweeps.")
def worker(once: bool, interval: float) -> None:
    """Fire due timers and consume device events (the demo's engine worker)."""
    from app.bootstrap import run_worker

    _require_current_schema()
    run_worker(once=once, interval=interval)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check module assets (menus, forms, BPMN, device profiles); default all shipped."""
    from app.assets.validate import validate_paths

    found = validate_paths(list(paths) or None, with_warnings=True)
    for finding in found:
        click.echo(str(finding))
    errors = [f for f in found if not f.is_warning]
    warnings = len(found) - len(errors)
    if errors:
        click.echo(f"{len(errors)} error(s), {warnings} warning(s)", err=True)
        sys.exit(1)
    click.echo(f"all assets valid ({warnings} warning(s))" if warnings else "all assets valid")


@main.group()
def db() -> None:
    """The database itself: create the role and database on PostgreSQL."""


@db.command("create")
@click.option("--admin-url", default=None,
              help="A PostgreSQL superuser URL to create them with "
                   "[default: the postgres user on the server of ESTATEFLOW_DATABASE_URL].")
def db_create(admin_url: str | None) -> None:
    """Create the role and the database that ESTATEFLOW_DATABASE_URL names (idempotent);
    then `estateflow init` creates the schema."""
    from app.dbcheck import create_database, default_admin_url
    from app.settings import get_settings

    url = get_settings().database_url
    try:
        done = create_database(url, admin_url or default_admin_url(url))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for line in done:
        click.echo(line)


@main.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Archive to write [default: var/backups/estateflow-backup-<time>.tar.gz].")
def backup(output: Path | None) -> None:
    """Save the database and the uploaded files (photos, evidence) into one archive."""
    from app.backup import BackupError, create_backup, default_archive_name
    from app.settings import get_settings

    settings = get_settings()
    output = output or settings.var_dir / "backups" / default_archive_name()
    try:
        manifest = create_backup(settings.database_url, settings.uploads_dir, output)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    rows = sum(manifest["tables"].values())
    click.echo(f"backup written to {output}: {len(manifest['tables'])} tables, {rows} rows, "
               f"{len(manifest['files'])} uploaded files, schema {manifest['revision']}")


@main.command()
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Overwrite a database that already holds data.")
def restore(archive: Path, replace: bool) -> None:
    """Bring back an archive made by `estateflow backup` (stop serve and worker first), then
    check every table's row count and every file's checksum against the archive."""
    from app.backup import BackupError, restore_backup
    from app.settings import get_settings

    settings = get_settings()
    try:
        report = restore_backup(settings.database_url, settings.uploads_dir, archive, replace=replace)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored {archive}: {report.tables} tables, {report.rows} rows, {report.files} "
               f"uploaded files, schema {report.revision} (row counts and checksums match the backup)")
    click.echo("if this version is newer than the backup, run `estateflow init` to upgrade the schema")


@main.command()
@click.option("--port", default=8080, show_default=True, type=int, help="nginx, the address people use.")
@click.option("--web-port", default=8001, show_default=True, type=int, help="gunicorn, behind nginx.")
@click.option("--mqtt-port", default=1884, show_default=True, type=int, help="The stack's own Mosquitto.")
@click.option("--prefect-port", default=4200, show_default=True, type=int)
@click.option("--web-workers", default=2, show_default=True, type=int, help="gunicorn processes.")
@click.option("--workers", default=2, show_default=True, type=int, help="Engine worker processes.")
@click.option("--state-dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Logs, broker persistence, Prefect's home [default: var/stack].")
@click.option("--demo", is_flag=True, help="Load the demo estate on first start.")
@click.option("--admin-url", default=None, help="PostgreSQL superuser URL for `db create` "
              "[default: the postgres user on the server of ESTATEFLOW_DATABASE_URL].")
def stack(port: int, web_port: int, mqtt_port: int, prefect_port: int, web_workers: int, workers: int,
          state_dir: Path | None, demo: bool, admin_url: str | None) -> None:
    """The whole stack on this machine in the foreground: PostgreSQL database, Mosquitto, gunicorn
    behind nginx, engine workers, a Prefect server and work pool running the module schedules."""
    import signal as _signal

    from app.settings import get_settings
    from app.stack import Ports, Stack, StackError

    running = Stack(state_dir or get_settings().var_dir / "stack", Ports(port, web_port, mqtt_port, prefect_port),
                    web_workers=web_workers, engine_workers=workers, demo=demo, admin_url=admin_url)

    def _stop(*_args):
        _signal.signal(_signal.SIGTERM, _signal.SIG_IGN)  # a second signal must not cut the shutdown short
        _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
        raise KeyboardInterrupt

    _signal.signal(_signal.SIGTERM, _stop)
    _signal.signal(_signal.SIGINT, _stop)
    try:
        running.start(say=click.echo)
        click.echo(f"estateflow stack is up: {running.base_url()}/ (Prefect UI http://127.0.0.1:{prefect_port}/)")
        running.supervise(say=click.echo)
    except StackError as exc:
        click.echo(f"estateflow: {exc}", err=True)
        running.stop()
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("stopping the stack")
        running.stop()
        click.echo("stopped")


@main.group()
def module() -> None:
    """Module packages: pack a module folder, validate it, upload it into the database."""


def _package_files(path: Path) -> dict[str, bytes]:
    from app.modules.packages import read_folder, read_zip

    if path.is_dir():
        return read_folder(path)
    files, errors = read_zip(path.read_bytes(), str(path))
    for error in errors:
        click.echo(str(error))
    if errors:
        sys.exit(1)
    return files


def _prefix(path: Path) -> str:
    return str(path) if path.is_dir() else ""


@module.command("pack")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Zip to write (default <id>-<version>.zip).")
def module_pack(folder: Path, output: Path | None) -> None:
    """Validate a module folder and zip it as one package."""
    from app.modules.packages import check_package, pack_folder, read_folder

    check = check_package(read_folder(folder), display_prefix=str(folder))
    for error in check.errors + check.warnings:
        click.echo(str(error))
    if check.errors:
        click.echo(f"{len(check.errors)} error(s); nothing packed", err=True)
        sys.exit(1)
    output = output or Path(f"{check.module.id}-{check.module.version}.zip")
    output.write_bytes(pack_folder(folder))
    click.echo(f"packed {check.module.id} {check.module.version}: {output}")


@module.command("validate")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def module_validate(path: Path) -> None:
    """Validate a module folder or zip as one package (against the installation's database:
    modules and processes uploaded earlier count)."""
    from app.db import db
    from app.modules.packages import check_package

    files = _package_files(path)
    with _app().app_context():
        check = check_package(files, session=db.session, display_prefix=_prefix(path))
    for error in check.errors + check.warnings:
        click.echo(str(error))
    if check.errors:
        click.echo(f"{len(check.errors)} error(s)", err=True)
        sys.exit(1)
    click.echo(f"valid: {check.module.id} {check.module.version}")


@module.command("upload")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--actor", default="cli", show_default=True, help="Recorded in the audit log.")
def module_upload(path: Path, actor: str) -> None:
    """Validate and store a module folder or zip in the database (all or nothing)."""
    from app.db import db
    from app.modules.packages import upload_package

    files = _package_files(path)
    with _app().app_context():
        outcome = upload_package(db.session, files, actor=actor, display_prefix=_prefix(path))
        for finding in outcome.warnings:
            click.echo(str(finding))
        if outcome.errors:
            db.session.rollback()
            for error in outcome.errors:
                click.echo(str(error))
            click.echo(f"{len(outcome.errors)} error(s); nothing stored", err=True)
            sys.exit(1)
        db.session.commit()
        package = outcome.package
        if outcome.created:
            click.echo(f"uploaded {package.module_id} {package.version}")
        else:
            click.echo(f"{package.module_id} {package.version} already uploaded with this content; nothing changed")


@main.group()
def schedules() -> None:
    """The enabled modules' schedules per community (Prefect deployments in production)."""


def _plan():
    from app.db import db
    from app.modules.schedules import deployment_plan
    from app.web.catalog import get_catalog

    with _app().app_context():
        return deployment_plan(db.session, get_catalog())


@schedules.command("list")
def schedules_list() -> None:
    """Print one line per (module, community, flow): deployment name, cron, active or paused."""
    for spec in _plan():
        state = "paused" if spec.paused else "active"
        click.echo(f"{spec.name}  {spec.flow}  \"{spec.cron}\" ({spec.timezone})  {state}")


@schedules.command("sync")
@click.option("--work-pool", default="estateflow", show_default=True, help="Prefect work pool.")
@click.option("--dry-run", is_flag=True, help="Only print the plan.")
def schedules_sync(work_pool: str, dry_run: bool) -> None:
    """Create or update a Prefect deployment per enabled module schedule and community; pause
    those of disabled modules (run it in the installation folder, PREFECT_API_URL set)."""
    plan = _plan()
    if dry_run:
        for spec in plan:
            click.echo(f"{'pause' if spec.paused else 'apply'} {spec.name}: {spec.flow} \"{spec.cron}\" "
                       f"{spec.parameters}")
        return
    from workflows.deployments import sync

    changed = sync(plan, work_pool=work_pool)
    click.echo(f"{len(changed['applied'])} deployment(s) applied, {len(changed['paused'])} paused")


@main.group(name="import")
def import_() -> None:
    """Import data from files."""


def _import_file(community_code: str, file: Path, dry_run: bool, preview, apply, summary) -> None:
    """Preview a file for a community, print ``file:row: column: reason`` per bad cell
    (exit 1, nothing written), else apply it in one transaction unless ``dry_run``."""
    from sqlalchemy import select

    from app.db import db
    from app.domains.estate.models import Community

    app = _app()
    with app.app_context():
        community = db.session.scalar(select(Community).where(Community.code == community_code))
        if community is None:
            raise click.ClickException(f"unknown community {community_code}")
        result = preview(db.session, community.id, file.read_bytes(), file.name, "en")
        for err in result.errors:
            click.echo(f"{file}:{err.row}: {err.column}: {err.reason}")
        if result.errors:
            sys.exit(1)
        click.echo(summary(result))
        if not dry_run:
            apply(db.session, community.id, result, "cli")
            db.session.commit()
            click.echo("imported")


_COMMUNITY = click.option("--community", "community_code", required=True, help="Community code, e.g. YC.")
_DRY_RUN = click.option("--dry-run", is_flag=True, help="Only show the preview.")
_FILE = click.argument("file", type=click.Path(exists=True, path_type=Path))


@import_.command("households")
@_COMMUNITY
@_DRY_RUN
@_FILE
def import_households(community_code: str, dry_run: bool, file: Path) -> None:
    """Import a household roster (CSV or Excel); all rows or none."""
    from app.domains.estate import household_import as svc

    _import_file(community_code, file, dry_run, svc.preview_import, svc.apply_import,
                 lambda p: f"{len(p.rows)} households ok; new buildings {p.new_buildings}; new units {p.new_units}")


@import_.command("devices")
@_COMMUNITY
@_DRY_RUN
@_FILE
def import_devices(community_code: str, dry_run: bool, file: Path) -> None:
    """Register a device list (CSV or Excel: code, name, profile, address, ...); all rows or none."""
    from app.domains.devices import device_import as svc

    _import_file(community_code, file, dry_run, svc.preview_devices, svc.apply_devices,
                 lambda p: f"{len(p.rows)} devices ok")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def simulate(ctx: click.Context) -> None:
    """Run the simulated devices (Modbus meters, MQTT doors/gates/cameras/sensors)."""
    from connectors.simulators.run import main as simulate_main

    sys.exit(simulate_main(list(ctx.args)) or 0)


def _add_domain_commands() -> None:
    """Each domain's ``cli.py`` may add commands (``COMMANDS``), e.g. fees' ``billing run``."""
    from app.platform.discovery import domain_parts

    for module in domain_parts("cli"):
        for command in getattr(module, "COMMANDS", ()):
            main.add_command(command)


_add_domain_commands()

if __name__ == "__main__":
    main()
