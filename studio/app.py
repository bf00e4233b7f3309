"""The studio's web application: the page, its assets and its JSON endpoints.

Every request must carry the studio's one-time token (``?token=`` or the
``X-Compplan-Token`` header) and name the studio's own address as its host;
anything else is refused with 403. Endpoints (docs/studio.md):

- ``GET /``: the page; ``GET /static/NAME``: its script and style.
- ``GET /api/case``: the case, its metrics and limits.
- ``GET /api/evaluate?STATE``: the state's plan and figures.
- ``POST /api/solve?STATE``: design the state's solved plan (Optimise, Round, min budget).
- ``GET /api/pulse?STATE``: the year so far under the state's plan (``--actuals``).
- ``GET /api/compare?state=STATE&state=STATE``: plans side by side.
- ``POST /api/save?STATE`` with ``{"path": ...}``: the plan as a TOML plan file.
- ``POST /api/export?STATE`` with ``{"kind": "report"|"workbook", "path": ...}``.
- ``GET /api/status``: the solves running now.

Bad input is a 400 answer with ``errors`` (each naming its parameter), never a crash.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from compplan.errors import CompplanError
from compplan.studio.exports import export, save_plan
from compplan.studio.org import OrgSession
from compplan.studio.session import NeedsSolve, NoPlan, Session
from compplan.studio.solving import Solver, design
from compplan.studio.state import FieldError, State, StateError, query

TOKEN_HEADER = "x-compplan-token"
#: The page's Content-Security-Policy: its own script, style and requests, nothing else.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_ASSETS = {"studio.js": "text/javascript; charset=utf-8", "studio.css": "text/css; charset=utf-8"}


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(_finite(data), status_code=status,
                        headers={"Cache-Control": "no-store"})


def _finite(value: Any) -> Any:
    """NaN and infinities as null: JSON has neither."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _errors(errors: list[FieldError], status: int = 400) -> JSONResponse:
    return _json({"errors": [e.to_dict() for e in errors]}, status)


class _Guard:
    """Refuse (403) a request without the token or for another host (plain ASGI)."""

    def __init__(self, app: ASGIApp, token: str, hosts: set[str]) -> None:
        self.app = app
        self.token = token
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        given = request.query_params.get("token") or request.headers.get(TOKEN_HEADER) or ""
        host = request.headers.get("host", "")
        if not hmac.compare_digest(given.encode(), self.token.encode()) or \
                (self.hosts and host not in self.hosts):
            refused = Response("403: this studio needs the token of its printed URL\n", 403,
                               media_type="text/plain")
            await refused(scope, receive, send)
            return

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
            await send(message)

        await self.app(scope, receive, send_guarded)


def _state_pairs(request: Request) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.query_params.multi_items() if k != "token"]


def create_app(session: Session, token: str, *, hosts: set[str] | None = None,
               solver: Solver | None = None) -> Starlette:
    """The studio's application for one session.

    Parameters
    ----------
    session : Session
        The case and its coefficients.
    token : str
        The one-time token every request must carry.
    hosts : set of str, optional
        ``Host`` headers accepted (``127.0.0.1:PORT``); any with None (tests).
    solver : Solver, optional
        Runs solves in child processes (made here without one).

    Returns
    -------
    Starlette
        The application.
    """
    solver = solver or Solver()

    def state_of(request: Request) -> State:
        return session.parse(_state_pairs(request))

    async def page(request: Request) -> Response:
        template = files("compplan.studio").joinpath("static/index.html").read_text("utf-8")
        html = template.replace("{{TOKEN}}", token).replace(
            "{{CASE}}", _escape(session.case.name))
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _ASSETS:
            return Response("not found\n", 404, media_type="text/plain")
        text = files("compplan.studio").joinpath(f"static/{name}").read_text("utf-8")
        return Response(text, media_type=_ASSETS[name], headers={"Cache-Control": "no-store"})

    async def case_info(request: Request) -> Response:
        return _json(session.info())

    def evaluate_sync(pairs: list[tuple[str, str]]) -> Response:
        try:
            return _json(session.document(session.parse(pairs)))
        except StateError as exc:
            return _errors(exc.errors)
        except NeedsSolve as exc:
            return _json({"needs_solve": True, "message": str(exc)}, 409)
        except NoPlan as exc:
            return _json({"solve": exc.solved.to_dict(), "message": str(exc)}, 409)

    async def evaluate(request: Request) -> Response:
        return await asyncio.to_thread(evaluate_sync, _state_pairs(request))

    async def solve(request: Request) -> Response:
        try:
            state = state_of(request)
        except StateError as exc:
            return _errors(exc.errors)
        if not state.solved:
            return _errors([FieldError("plan", 0, state.plan,
                                       "solve needs plan=optimised, rounded or min-budget")])
        found = await design(session, solver, state, request.is_disconnected)
        if found is None:
            return _json({"stopped": True}, 499)
        return _json({**found.to_dict(), "state": query(state),
                      "ok": found.plan is not None})

    def pulse_sync(pairs: list[tuple[str, str]]) -> Response:
        try:
            return _json(session.pulse(session.parse(pairs)))
        except StateError as exc:
            return _errors(exc.errors)
        except NeedsSolve as exc:
            return _json({"needs_solve": True, "message": str(exc)}, 409)
        except NoPlan as exc:
            return _json({"solve": exc.solved.to_dict(), "message": str(exc)}, 409)
        except CompplanError as exc:
            return _errors([FieldError("actuals", 0, "", str(exc))])

    async def pulse(request: Request) -> Response:
        return await asyncio.to_thread(pulse_sync, _state_pairs(request))

    async def compare(request: Request) -> Response:
        texts = request.query_params.getlist("state")
        try:
            states = [session.parse(t) for t in texts]
        except StateError as exc:
            return _errors(exc.errors)
        if len(states) < 2:
            return _errors([FieldError("state", len(states), "",
                                       "compare needs at least two states")])
        try:
            return _json(await asyncio.to_thread(session.compare, states))
        except StateError as exc:
            return _errors(exc.errors)
        except (NeedsSolve, NoPlan) as exc:
            return _json({"message": str(exc)}, 409)

    async def body(request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body() or b"{}")
        except (ValueError, UnicodeDecodeError):
            data = None
        return data if isinstance(data, dict) else {}

    async def save(request: Request) -> Response:
        data = await body(request)
        path = data.get("path")
        try:
            state = state_of(request)
            plan = session.plan(state)
            written = await asyncio.to_thread(save_plan, session, plan, path)
        except StateError as exc:
            return _errors(exc.errors)
        except (NeedsSolve, NoPlan) as exc:
            return _json({"message": str(exc)}, 409)
        except CompplanError as exc:
            return _errors([FieldError("path", 0, str(path), str(exc))])
        return _json({"written": [str(written)]})

    async def export_file(request: Request) -> Response:
        data = await body(request)
        kind, path = data.get("kind"), data.get("path")
        try:
            state = state_of(request)
            plan = session.plan(state)
            await best_known(request)
            written = await asyncio.to_thread(export, session, plan, session.name(state),
                                              kind, path)
        except StateError as exc:
            return _errors(exc.errors)
        except (NeedsSolve, NoPlan) as exc:
            return _json({"message": str(exc)}, 409)
        except CompplanError as exc:
            return _errors([FieldError("path", 0, str(path), str(exc))])
        return _json({"written": [str(written)]})

    async def best_known(request: Request) -> None:
        """The case's own optimised plan, designed in a child process: the best alignment."""
        if session.best is None:
            solved = await design(session, solver, State(plan="optimised"),
                                  request.is_disconnected)
            if solved is not None and solved.plan is not None:
                session.set_best(solved.plan)

    async def status(request: Request) -> Response:
        return _json({"running": sorted(solver.running), "solved": len(session.solved)})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            solver.stop_all()

    routes = [Route("/", page), Route("/static/{name}", asset),
              Route("/api/case", case_info), Route("/api/evaluate", evaluate),
              Route("/api/pulse", pulse),
              Route("/api/solve", solve, methods=["POST"]), Route("/api/compare", compare),
              Route("/api/save", save, methods=["POST"]),
              Route("/api/export", export_file, methods=["POST"]),
              Route("/api/status", status)]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(_Guard, token=token, hosts=hosts or set())])
    app.state.solver = solver
    return app


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def create_org_app(session: OrgSession, token: str, *,
                   hosts: set[str] | None = None) -> Starlette:
    """The studio's application for an organisation (``compplan studio ORG_DIR``).

    Endpoints: ``GET /`` (the page), ``GET /static/NAME``, ``GET /api/org/case``,
    ``GET /api/org/evaluate?ROLE.set=...&ROLE.shift=...`` and ``GET /api/status``.

    Parameters
    ----------
    session : OrgSession
        The organisation and each role's coefficients.
    token : str
        The one-time token every request must carry.
    hosts : set of str, optional
        ``Host`` headers accepted; any with None (tests).

    Returns
    -------
    Starlette
        The application.
    """

    async def page(request: Request) -> Response:
        template = files("compplan.studio").joinpath("static/org.html").read_text("utf-8")
        html = template.replace("{{TOKEN}}", token).replace(
            "{{CASE}}", _escape(session.org.spec.org.name))
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _ORG_ASSETS:
            return Response("not found\n", 404, media_type="text/plain")
        text = files("compplan.studio").joinpath(f"static/{name}").read_text("utf-8")
        return Response(text, media_type=_ORG_ASSETS[name],
                        headers={"Cache-Control": "no-store"})

    async def case_info(request: Request) -> Response:
        return _json(session.info())

    def evaluate_sync(pairs: list[tuple[str, str]]) -> Response:
        try:
            return _json(session.document(pairs))
        except StateError as exc:
            return _errors(exc.errors)

    async def evaluate(request: Request) -> Response:
        return await asyncio.to_thread(evaluate_sync, _state_pairs(request))

    async def status(request: Request) -> Response:
        return _json({"running": [], "solved": 0})

    routes = [Route("/", page), Route("/static/{name}", asset),
              Route("/api/org/case", case_info), Route("/api/org/evaluate", evaluate),
              Route("/api/status", status)]
    return Starlette(routes=routes,
                     middleware=[Middleware(_Guard, token=token, hosts=hosts or set())])


_ORG_ASSETS = {"org.js": "text/javascript; charset=utf-8",
               "studio.css": "text/css; charset=utf-8"}
