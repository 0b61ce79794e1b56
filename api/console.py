"""The brand console's pages: sign-in, sign-out and the console itself (`/console`).

Server-rendered shells with one script (`/console/console.js`) that talks to the same `/graphql`
API as every client, with the session cookie and its CSRF token in `X-CSRF-Token`; what a role may
do is decided by the API (api.permissions), not here. Cookies are HttpOnly, SameSite=Strict and
Secure whenever the public URL is https. The sign-in form carries a double-submit CSRF token of its
own. See docs/architecture.md ("Console").
"""

from __future__ import annotations

import hmac
import html
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from api.auth import CONSOLE_COOKIE
from api.ratelimit import client_ip, ip_bucket
from engine import console as sessions
from engine.errors import DomainError, ErrorCode
from engine.settings import get_settings

STATIC = Path(__file__).parent / "static"
LOGIN_CSRF_COOKIE = "cosource_login_csrf"
_MAX_FORM = 8 * 1024
_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"


def invite_url(token: str) -> str:
    """Where an invited person sets a password (the page below), as reached from outside."""
    return f"{get_settings().public_url.rstrip('/')}/console/invite/{token}"


def _secure() -> bool:
    return get_settings().public_url.startswith("https://")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · Cosource console</title>
<link rel="stylesheet" href="/console/vendor/uPlot.min.css">
<link rel="stylesheet" href="/console/console.css"></head><body>{body}</body></html>""",
        status_code=status,
        headers={
            "Content-Security-Policy": _CSP,
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-store",
        },
    )


def _with_form_token(render: Callable[[str], HTMLResponse]) -> Response:
    """A signed-out form with its double-submit CSRF token (hidden field and cookie)."""
    token = secrets.token_urlsafe(24)
    response = render(token)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(),
        path="/console",
    )
    return response


def _form_token_ok(request: Request, form: dict[str, str]) -> bool:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return bool(expected) and hmac.compare_digest(expected, form.get("csrf", ""))


def _login_page(
    message: str = "", status: int = 200, brand: str = "", email: str = "", note: str = ""
) -> Response:
    alert = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    if note:
        alert += f'<p class="note" role="status">{html.escape(note)}</p>'
    return _with_form_token(
        lambda token: _page(
            "Sign in",
            f"""<main class="signin"><h1>Cosource console</h1>{alert}
<form method="post" action="/console/login">
<input type="hidden" name="csrf" value="{token}">
<label for="brand">Brand</label><input id="brand" name="brand" required autocomplete="organization" value="{html.escape(brand)}">
<label for="email">Email</label><input id="email" name="email" type="email" required autocomplete="username" value="{html.escape(email)}">
<label for="password">Password</label><input id="password" name="password" type="password" required autocomplete="current-password">
<button type="submit">Sign in</button></form></main>""",
            status,
        )
    )


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > _MAX_FORM:
        return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items() if v}


async def console_page(request: Request) -> Response:
    token = request.cookies.get(CONSOLE_COOKIE, "")
    session = await sessions.session_for(token) if token else None
    if session is None:
        return _login_page()
    user = session.user
    return _page(
        "Console",
        f"""<header><strong>{html.escape(session.tenant.name)}</strong>
<span>{html.escape(user.email)} · {user.role.value.lower()}</span>
<form method="post" action="/console/logout"><input type="hidden" name="csrf" value="{session.csrf_token}">
<button type="submit">Sign out</button></form></header>
<main id="console" data-role="{user.role.value}" data-csrf="{session.csrf_token}">
<nav aria-label="Sections"><a href="#ideas">Ideas</a> <a href="#moderation">Moderation</a> <a href="#campaigns">Campaigns</a> <a href="#insights">Insights</a> <a href="#webhooks">Webhooks</a> <a href="#team">Team</a> <a href="#audit">Audit log</a></nav>
<p id="status" role="status" aria-live="polite"></p>
<section id="ideas" aria-labelledby="ideas-h"><h2 id="ideas-h">Ideas</h2><div class="list"></div></section>
<section id="moderation" aria-labelledby="mod-h"><h2 id="mod-h">Moderation queue</h2><div class="list"></div></section>
<section id="campaigns" aria-labelledby="camp-h"><h2 id="camp-h">Campaigns</h2><div class="list"></div></section>
<section id="insights" aria-labelledby="ins-h"><h2 id="ins-h">Insights</h2><div class="list"></div></section>
<section id="webhooks" aria-labelledby="hook-h"><h2 id="hook-h">Webhooks</h2><div class="list"></div></section>
<section id="team" aria-labelledby="team-h"><h2 id="team-h">Team</h2><div class="list"></div></section>
<section id="audit" aria-labelledby="audit-h"><h2 id="audit-h">Audit log</h2><div class="list"></div></section>
</main><script src="/console/vendor/uPlot.iife.min.js" defer></script>
<script src="/console/console-lib.js" defer></script>
<script src="/console/console.js" defer></script>
<script src="/console/console-insights.js" defer></script>
<script src="/console/console-manage.js" defer></script>""",
    )


async def login(request: Request) -> Response:
    form = await _form(request)
    if not _form_token_ok(request, form):
        return _login_page("The form expired; please sign in again.", 403)
    brand, email = form.get("brand", ""), form.get("email", "")
    ip = ip_bucket(client_ip(request))  # behind the trusted proxies, as rate limits count
    try:
        token, _ = await sessions.sign_in(brand, email, form.get("password", ""), ip)
    except sessions.SignInThrottled as exc:
        response = _login_page(str(exc).capitalize() + ".", 429, brand, email)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except sessions.SignInRefused:
        return _login_page("Wrong brand, email or password.", 401, brand, email)
    response = RedirectResponse("/console", status_code=303)
    response.set_cookie(
        CONSOLE_COOKIE,
        token,
        max_age=sessions.SESSION_HOURS * 3600,
        httponly=True,
        samesite="strict",
        secure=_secure(),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


async def logout(request: Request) -> Response:
    token = request.cookies.get(CONSOLE_COOKIE, "")
    session = await sessions.session_for(token) if token else None
    form = await _form(request)
    if session is not None:
        if not hmac.compare_digest(session.csrf_token, form.get("csrf", "")):
            return _page("Sign out", "<p role='alert'>The form expired.</p>", 403)
        await sessions.sign_out(token)
    response = RedirectResponse("/console", status_code=303)
    response.delete_cookie(CONSOLE_COOKIE, path="/")
    return response


def _invite_page(
    token: str, pending: sessions.PendingInvite, message: str = "", status: int = 200
) -> Response:
    invite = pending.invite
    alert = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    return _with_form_token(
        lambda csrf: _page(
            "Join",
            f"""<main class="signin"><h1>Join {html.escape(pending.tenant.name)} on Cosource</h1>
<p>You are invited as <strong>{invite.role.value.lower()}</strong> with the email
<strong>{html.escape(invite.email)}</strong>. Choose a password of at least
{sessions.PASSWORD_MIN} characters.</p>{alert}
<form method="post" action="/console/invite/{html.escape(token)}">
<input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="username" autocomplete="username" value="{html.escape(invite.email)}">
<label for="password">New password</label><input id="password" name="password" type="password" required minlength="{sessions.PASSWORD_MIN}" autocomplete="new-password">
<label for="confirm">Repeat the password</label><input id="confirm" name="confirm" type="password" required minlength="{sessions.PASSWORD_MIN}" autocomplete="new-password">
<button type="submit">Set password</button></form></main>""",
            status,
        )
    )


_INVITE_GONE = (
    "<main class='signin'><h1>Invitation not valid</h1><p role='alert'>This link was used, "
    "revoked or has expired. Ask an owner of the brand for a new one.</p></main>"
)


async def invite_page(request: Request) -> Response:
    token = request.path_params["token"]
    pending = await sessions.invite_for(token)
    if pending is None:
        return _page("Invitation", _INVITE_GONE, 404)
    return _invite_page(token, pending)


async def accept_invite(request: Request) -> Response:
    """Sets the invited person's password, then shows the sign-in form (brand and email filled)."""
    token = request.path_params["token"]
    pending = await sessions.invite_for(token)
    if pending is None:
        return _page("Invitation", _INVITE_GONE, 404)
    form = await _form(request)
    if not _form_token_ok(request, form):
        return _invite_page(token, pending, "The form expired; please try again.", 403)
    password = form.get("password", "")
    if password != form.get("confirm", ""):
        return _invite_page(token, pending, "The two passwords differ.", 400)
    try:
        user, tenant = await sessions.accept_invite(token, password)
    except DomainError as exc:
        if exc.code == ErrorCode.NOT_FOUND:
            return _page("Invitation", _INVITE_GONE, 404)
        return _invite_page(token, pending, str(exc).capitalize() + ".", 400)
    return _login_page(
        brand=tenant.slug, email=user.email, note="Your password is set: sign in to continue."
    )


# The console's own scripts: shared helpers first, then one script per group of sections.
ASSETS = ("console-lib.js", "console.js", "console-insights.js", "console-manage.js", "console.css")


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS:
        return Response(status_code=404)
    return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})


# Vendored from npm at build time (scripts/build-assets.mjs); served here, never from a CDN.
VENDORED = ("uPlot.iife.min.js", "uPlot.min.css")


async def vendor_asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in VENDORED:
        return Response(status_code=404)
    return FileResponse(STATIC / "vendor" / name, headers={"Cache-Control": "no-cache"})


ROUTES = [
    Route("/console", console_page, methods=["GET"]),
    Route("/console/login", login, methods=["POST"]),
    Route("/console/logout", logout, methods=["POST"]),
    Route("/console/invite/{token}", invite_page, methods=["GET"]),
    Route("/console/invite/{token}", accept_invite, methods=["POST"]),
    Route("/console/vendor/{name}", vendor_asset, methods=["GET"]),
    Route("/console/{name}", asset, methods=["GET"]),
]
