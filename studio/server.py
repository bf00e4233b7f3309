"""Serve the studio on 127.0.0.1 until Ctrl-C.

The port is a free one the system picks (or the one given); the URL printed carries
a one-time token, as Jupyter's does: without it every request is refused.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import webbrowser
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from compplan.errors import UsageError
from compplan.studio.app import create_app, create_org_app
from compplan.studio.org import OrgSession
from compplan.studio.session import Session
from compplan.studio.solving import Solver, design
from compplan.studio.state import State, query

HOST = "127.0.0.1"


def bind(port: int | None) -> socket.socket:
    """A listening socket on 127.0.0.1: ``port``, or a free one the system picks.

    Raises
    ------
    UsageError
        The port is taken or not allowed.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A port the studio used a moment ago (TIME_WAIT) can be taken again; one in use cannot.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port or 0))
    except OSError as exc:
        sock.close()
        raise UsageError(f"--port {port}: cannot listen on {HOST}:{port} "
                         f"({exc.strerror or exc}); give another port or none") from None
    sock.listen(128)
    return sock


def studio_url(port: int, token: str, state: str) -> str:
    """The page's address: the token, then the state."""
    return f"http://{HOST}:{port}/?token={quote(token)}&{state}"


def serve(session: Session | OrgSession, *, port: int | None = None, open_browser: bool = True,
          say: Callable[[str], None] = print, token: str | None = None) -> None:
    """Serve the studio until interrupted (Ctrl-C), then stop every solve.

    Parameters
    ----------
    session : Session or OrgSession
        The case (or organisation), its coefficients and plans.
    port : int, optional
        The port (a free one without).
    open_browser : bool
        Open the page in the default browser.
    say : callable
        Prints the address.
    token : str, optional
        The token (a fresh random one without; tests give theirs).
    """
    import uvicorn

    sock = bind(port)
    token = token or secrets.token_urlsafe(24)
    bound = sock.getsockname()[1]
    hosts = {f"{HOST}:{bound}", f"localhost:{bound}"}
    solver = Solver()
    if isinstance(session, OrgSession):
        app = create_org_app(session, token, hosts=hosts)
        url = studio_url(bound, token, f"role={session.first_role}")
        name = session.org.spec.org.name
    else:
        app = _case_app(session, token, hosts, solver)
        url = studio_url(bound, token, query(State(plan=session.first_plan)))
        name = session.case.name
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1,
                            access_log=False)
    server = uvicorn.Server(config)
    say(f"compplan studio: {name} at\n    {url}\n(Ctrl-C stops it)")
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shuts down on Ctrl-C, then raises it again: the studio's way to stop.
        pass
    finally:
        solver.stop_all()
        sock.close()
    say("compplan studio: stopped")


def _case_app(session: Session, token: str, hosts: set[str], solver: Solver) -> Any:
    """A case's application, designing the case's own optimised plan as it starts."""
    app = create_app(session, token, hosts=hosts, solver=solver)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        # The default Optimise and the best plan (for "% of best"), while the page loads.
        task = asyncio.create_task(_first_solve(session, solver))
        async with inner(app):
            try:
                yield
            finally:
                task.cancel()

    app.router.lifespan_context = lifespan
    return app


async def _first_solve(session: Session, solver: Solver) -> None:
    """Design the case's own optimised plan once: the best alignment and a ready Optimise."""

    async def never() -> bool:
        return False

    solved = await design(session, solver, State(plan="optimised"), never)
    if solved is not None and solved.plan is not None:
        session.set_best(solved.plan)
