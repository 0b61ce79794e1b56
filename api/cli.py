"""The `cosource` command: serve, worker, migrate, tenant, members, console-user, reputation,
similarity, secrets, demo, export-schema."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from engine import db, sealed
from engine.errors import DomainError, ErrorCode
from engine.settings import get_settings
from runtime import composition

app = typer.Typer(
    help="Cosource: customer-sourcing campaigns with signed webhooks.", no_args_is_help=True
)
tenant_app = typer.Typer(help="Manage tenants (brands).", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
reputation_app = typer.Typer(help="Reputation ledger operations.", no_args_is_help=True)
app.add_typer(reputation_app, name="reputation")
console_app = typer.Typer(help="Console users (community managers).", no_args_is_help=True)
app.add_typer(console_app, name="console-user")
secrets_app = typer.Typer(help="The key that seals secrets at rest.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")
similarity_app = typer.Typer(help="Duplicate-suggestion vectors.", no_args_is_help=True)
app.add_typer(similarity_app, name="similarity")
members_app = typer.Typer(help="Members (the brand's customers).", no_args_is_help=True)
app.add_typer(members_app, name="members")
console = Console()
err = Console(stderr=True)


def _logging() -> dict[str, object]:
    from api.logs import configure

    return configure(get_settings())


async def _migrate(url: str) -> None:
    console.print(f"[bold]Migrating[/bold] {_redact(url)} ...")
    await composition.migrate(url)
    await db.close_db()
    console.print("[green]Database is up to date.[/green]")


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@app.command()
def migrate() -> None:
    """Apply pending database migrations (safe to run again)."""
    asyncio.run(_migrate(get_settings().database_url))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (COSOURCE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (COSOURCE_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (needs Redis for jobs).")] = 1,
) -> None:
    """Run the HTTP API: /graphql, /healthz, /metrics, /widget.js, /demo."""
    import uvicorn

    settings = get_settings()
    log_config = _logging()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=log_config,
        # api.access logs each request with its id, operation and outcome.
        access_log=False,
        # Client addresses come from COSOURCE_TRUSTED_PROXIES (api.ratelimit), not from uvicorn.
        proxy_headers=False,
    )


@app.command()
def worker(
    burst: Annotated[bool, typer.Option(help="Exit when the queue is empty.")] = False,
) -> None:
    """Run the arq worker: webhook deliveries, event consumers, the outbox sweeper."""
    from runtime.worker import build_worker

    _logging()
    settings = get_settings()
    if not settings.redis_url:
        err.print(
            "[red]cosource worker needs COSOURCE_REDIS_URL.[/red] Without Redis, "
            "`cosource serve` runs jobs in-process."
        )
        raise typer.Exit(2)
    build_worker(settings, burst=burst).run()


@tenant_app.command("create")
def tenant_create(
    name: str,
    slug: Annotated[str | None, typer.Option(help="URL-safe id; defaults to the name.")] = None,
    origin: Annotated[
        list[str] | None,
        typer.Option(help="Browser origin allowed for the publishable key (repeatable)."),
    ] = None,
) -> None:
    """Create a tenant and print its keys and identity secret (shown only once)."""
    from engine.tenants import create_tenant

    async def run() -> None:
        async with composition.command_process():
            new = await create_tenant(name, slug=slug, allowed_origins=origin or [])
        console.print(
            f"[bold green]Tenant created:[/bold green] {new.tenant.name} (slug {new.tenant.slug})"
        )
        console.print("Store these now; they are not shown again.")
        console.print(f"  secret key       {new.secret_key}")
        console.print(f"  publishable key  {new.publishable_key}")
        console.print(f"  identity secret  {new.identity_secret}")

    try:
        asyncio.run(run())
    except DomainError as exc:
        for e in exc.errors:
            err.print(f"[red]{e.field or 'error'}: {e.message}[/red]")
        raise typer.Exit(1) from exc


def _latest_migration() -> str:
    import migrations

    names = sorted(p.stem for p in Path(migrations.__file__).parent.glob("[0-9]*.py"))
    return names[-1]


@tenant_app.command("export")
def tenant_export(
    slug: str,
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Every row of one brand as JSON lines (secrets in clear: keep the file like a backup)."""
    import orjson

    from engine import transfer
    from engine.models.tenants import Tenant

    err = Console(stderr=True)

    async def run() -> int:
        async with composition.command_process():
            tenant = await Tenant.get_or_none(slug=slug)
            if tenant is None:
                err.print(f"[red]no brand with slug {slug!r}[/red]")
                return 1
            out = output.open("wb") if output else sys.stdout.buffer
            lines = 0
            try:
                async for line in transfer.export_tenant(tenant, _latest_migration()):
                    out.write(orjson.dumps(line) + b"\n")
                    lines += 1
            finally:
                if output:
                    out.close()
                else:
                    out.flush()
            err.print(f"exported {lines - 1} rows of {tenant.name!r}")
            return 0

    raise typer.Exit(asyncio.run(run()))


@tenant_app.command("import")
def tenant_import(file: Path) -> None:
    """Write a brand exported with `tenant export` into this database (same ids; all or nothing)."""
    import orjson

    from engine import transfer

    err = Console(stderr=True)

    def lines() -> Iterator[dict[str, Any]]:
        with file.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                if raw.strip():
                    try:
                        yield orjson.loads(raw)
                    except orjson.JSONDecodeError as exc:
                        raise DomainError(
                            ErrorCode.INVALID, f"line {number} is not JSON: {exc}", "file"
                        ) from exc

    async def run() -> int:
        async with composition.command_process():
            try:
                tenant = await transfer.import_tenant(lines(), _latest_migration())
            except DomainError as exc:
                err.print(f"[red]{exc.errors[0].message}[/red]")
                return 1
            err.print(f"imported {tenant.name!r} (slug {tenant.slug})")
            return 0

    if not file.exists():
        err.print(f"[red]{file} does not exist[/red]")
        raise typer.Exit(1)
    raise typer.Exit(asyncio.run(run()))


@reputation_app.command("rebuild")
def reputation_rebuild(
    tenant: Annotated[
        str | None, typer.Option(help="Only this tenant (its slug); default: every tenant.")
    ] = None,
) -> None:
    """Recompute every member's reputation and level from the ledger, and list the members whose
    stored total differed (safe while the API and workers run)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Table

    from engine.models.tenants import Tenant
    from engine.reputation.rebuild import RebuildReport, rebuild
    from engine.tenancy import tenant_scope

    async def run() -> list[tuple[Tenant, RebuildReport]] | None:
        async with composition.command_process():
            query = Tenant.filter(slug=tenant) if tenant else Tenant.all()
            tenants = await query.order_by("id")
            if not tenants:
                return None
            reports = []
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=err) as progress:
                for row in tenants:
                    task = progress.add_task(row.slug, total=None)

                    def advance(done: int, total: int, task: TaskID = task) -> None:
                        progress.update(task, completed=done, total=max(total, done))

                    with tenant_scope(row.id):
                        report = await rebuild(progress=advance)
                    progress.update(task, completed=report.members, total=report.members)
                    reports.append((row, report))
            return reports

    reports = asyncio.run(run())
    if reports is None:
        err.print(f"[red]No tenant with slug {tenant!r}.[/red]" if tenant else "No tenants.")
        raise typer.Exit(1 if tenant else 0)
    drifted = 0
    for row, report in reports:
        console.print(
            f"[bold]{row.slug}[/bold]: {report.members} members checked, "
            f"{len(report.drifts)} differed from the ledger"
        )
        if report.drifts:
            table = Table("member", "external id", "stored", "ledger", "level (stored -> ledger)")
            for d in report.drifts:
                table.add_row(
                    str(d.member_id),
                    d.external_id,
                    str(d.stored),
                    str(d.ledger),
                    f"{d.stored_level} -> {d.level}",
                )
            console.print(table)
        drifted += len(report.drifts)
    console.print(
        f"[green]Rebuilt.[/green] {drifted} member(s) repaired."
        if drifted
        else "[green]Every stored total agrees with the ledger.[/green]"
    )


def _console_role(role: str) -> Any:
    from engine.models.console import ConsoleRole

    try:
        return ConsoleRole(role.upper())
    except ValueError:
        Console(stderr=True).print("[red]--role is owner, moderator or analyst[/red]")
        raise typer.Exit(2) from None


def _in_brand(slug: str, action: Callable[[Any], Awaitable[str]]) -> int:
    """Run ``action(brand)`` in the brand's tenant scope; print what it returns, or why not."""
    from engine.models.tenants import Tenant
    from engine.tenancy import tenant_scope

    err = Console(stderr=True)

    async def run() -> int:
        async with composition.command_process():
            brand = await Tenant.get_or_none(slug=slug)
            if brand is None:
                err.print(f"[red]no brand with slug {slug!r}[/red]")
                return 1
            with tenant_scope(brand.id):
                try:
                    said = await action(brand)
                except DomainError as exc:
                    err.print(f"[red]{exc.errors[0].message}[/red]")
                    return 1
            Console(soft_wrap=True).print(said, markup=False, highlight=False)
            return 0

    return asyncio.run(run())


@console_app.command("add")
def console_user_add(
    email: str,
    tenant: Annotated[str, typer.Option("--tenant", help="The brand's slug.")],
    role: Annotated[str, typer.Option(help="owner, moderator or analyst.")] = "owner",
    password: Annotated[
        str | None,
        typer.Option(
            help="At least 12 characters; asked for (hidden) when not given.",
            envvar="COSOURCE_CONSOLE_PASSWORD",
        ),
    ] = None,
) -> None:
    """Add a console user to a brand (or give an existing one a new role and password)."""
    from engine import console

    chosen = _console_role(role)
    secret = password or typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def add(brand: Any) -> str:
        user = await console.add_user(email, chosen, secret)
        return (
            f"{user.email} is {user.role.value.lower()} of {brand.name!r}: sign in at "
            f"{get_settings().public_url}/console"
        )

    raise typer.Exit(_in_brand(tenant, add))


@console_app.command("invite")
def console_user_invite(
    email: str,
    tenant: Annotated[str, typer.Option("--tenant", help="The brand's slug.")],
    role: Annotated[str, typer.Option(help="owner, moderator or analyst.")] = "moderator",
) -> None:
    """Print a one-time link (72 hours) where EMAIL chooses a password and joins the brand."""
    from api.console import invite_url
    from engine import console

    chosen = _console_role(role)

    async def invite(brand: Any) -> str:
        issued = await console.invite_user(email, chosen, invited_by=None)
        return (
            f"{issued.invite.email} is invited as {chosen.value.lower()} of {brand.name!r}; "
            f"send them this link (shown once): {invite_url(issued.token)}"
        )

    raise typer.Exit(_in_brand(tenant, invite))


@secrets_app.command("generate-key")
def secrets_generate_key() -> None:
    """Print a new key for COSOURCE_SECRET_KEY (keep it out of the database's backups)."""
    typer.echo(sealed.generate_key())


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Re-seal every stored secret under COSOURCE_SECRET_KEY. Run it after moving the old key to
    COSOURCE_SECRET_KEY_PREVIOUS (and restarting the API and workers); then drop the old key."""

    from rich.progress import Progress

    async def run() -> dict[str, int]:
        async with composition.command_process():
            with Progress(console=console, transient=True) as bar:
                task = bar.add_task("re-sealing", total=None)
                return await sealed.rotate_all(lambda n: bar.advance(task, n))

    try:
        done = asyncio.run(run())
    except (sealed.SecretKeyMissing, sealed.SealedSecretUnreadable) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    for column, count in done.items():
        console.print(f"  {column}: {count} re-sealed")
    console.print(f"{sum(done.values())} secrets sealed under the current key")


@similarity_app.command("backfill")
def similarity_backfill(
    tenant: Annotated[
        str | None, typer.Option(help="Only this tenant (its slug); default: every tenant.")
    ] = None,
) -> None:
    """Make the sentence vectors of every idea that has none or an outdated one (ideas submitted
    before the model was installed, or by a different model). Safe while the API and workers run,
    and to run again."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from engine import idea_vectors
    from engine.embeddings import ModelUnavailable
    from engine.models.tenants import Tenant

    async def run() -> int | None:
        async with composition.command_process():
            tenant_id = None
            if tenant:
                row = await Tenant.get_or_none(slug=tenant)
                if row is None:
                    return None
                tenant_id = row.id
            columns = (
                TextColumn("ideas"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=err) as progress:
                task = progress.add_task("ideas", total=None)

                def advance(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                return await idea_vectors.backfill(tenant_id, progress=advance)

    try:
        written = asyncio.run(run())
    except ModelUnavailable as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    if written is None:
        err.print(f"[red]No tenant with slug {tenant!r}.[/red]")
        raise typer.Exit(1)
    console.print(f"[green]Backfilled.[/green] {written} idea(s) embedded.")


@members_app.command("import")
def members_import(
    file: Annotated[Path, typer.Argument(help="A .csv (with a header) or .jsonl file.")],
    tenant: Annotated[
        str | None, typer.Option(help="The tenant's slug (optional when there is only one).")
    ] = None,
) -> None:
    """Create or update members from a file, by external id. Columns / keys: external_id,
    display_name, email, verified, tier, customer_value_cents (empty = leave as it is).
    Exit code 1 when any row was rejected (each is listed with its line number), 2 when the file
    is malformed (then nothing was written)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from engine.member_import import ImportReport, import_file
    from engine.models.tenants import Tenant
    from engine.tenancy import tenant_scope

    if not file.is_file():
        err.print(f"[red]No such file: {file}[/red]")
        raise typer.Exit(2)

    async def run() -> ImportReport:
        # Wired like every process: a crossed SUPPORTER_VALUE threshold writes its webhook
        # deliveries with the change (runtime.composition.command_process).
        async with composition.command_process():
            rows = await (Tenant.filter(slug=tenant) if tenant else Tenant.all()).limit(2)
            if len(rows) != 1:
                raise DomainError(
                    ErrorCode.NOT_FOUND if tenant else ErrorCode.REQUIRED,
                    f"no tenant with slug {tenant!r}" if tenant else "say which: --tenant SLUG",
                    "tenant",
                )
            columns = (TextColumn(file.name), BarColumn(), DownloadColumn(), TimeRemainingColumn())
            with Progress(*columns, console=err, transient=False) as progress:
                task = progress.add_task("import", total=file.stat().st_size)
                with tenant_scope(rows[0].id):
                    return await import_file(
                        file, progress=lambda done: progress.update(task, completed=done)
                    )

    try:
        report = asyncio.run(run())
    except DomainError as exc:
        for e in exc.errors:
            err.print(f"[red]{e.field or 'error'}: {e.message}[/red]")
        raise typer.Exit(2 if exc.errors[0].field in ("file", "tenant") else 1) from exc
    for rejected in report.rejected:
        # Plain lines on stderr: easy to grep or redirect into a fix-up list.
        err.print(f"line {rejected.line}: {rejected.reason}", markup=False, highlight=False)
    console.print(
        f"{report.rows} rows: {report.created} members created, {report.updated} updated, "
        f"{len(report.rejected)} rejected"
    )
    if report.rejected:
        raise typer.Exit(1)


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="Port (COSOURCE_PORT).")] = None,
    seed_only: Annotated[bool, typer.Option(help="Seed, print the keys and exit.")] = False,
) -> None:
    """Migrate, seed the demo brand (once), print its keys, then serve with the demo page."""
    import os

    import uvicorn

    from api.seed import seed_demo
    from engine.settings import reset_settings

    settings = get_settings()

    async def prepare() -> None:
        await _migrate(settings.database_url)
        async with composition.command_process():
            console.print("[bold]Seeding the demo brand[/bold] ...")
            result = await seed_demo()
        # The demo page needs the publishable key, and mints member tokens for visitors.
        os.environ["COSOURCE_DEMO_PUBLISHABLE_KEY"] = result.publishable_key
        os.environ["COSOURCE_DEMO_IDENTITY_SECRET"] = result.identity_secret
        reset_settings()
        console.print(f"  tenant           {result.tenant.name} (slug {result.tenant.slug})")
        console.print(f"  secret key       {result.secret_key}")
        console.print(f"  publishable key  {result.publishable_key}")
        console.print(f"  console brand    {result.tenant.slug}")
        console.print(f"  console email    {result.console_email}")
        console.print(f"  console password {result.console_password}")

    asyncio.run(prepare())
    if seed_only:
        return
    url = f"http://{settings.host}:{port or settings.port}"
    console.print(
        f"[bold green]Cosource demo[/bold green] at {url}/demo  (GraphiQL at {url}/graphql,"
        f" console at {url}/console)"
    )
    log_config = _logging()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.host,
        port=port or settings.port,
        log_config=log_config,
        access_log=False,
    )


@app.command("export-schema")
def export_schema(
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Print the GraphQL SDL (the checked-in schema.graphql must equal it)."""
    from api.schema import export_sdl

    sdl = export_sdl()
    if output is None:
        sys.stdout.write(sdl)
    else:
        output.write_text(sdl)
        err.print(f"wrote {output}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
