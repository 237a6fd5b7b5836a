"""textual-serve's server behind a token, as Jupyter's.

textual-serve has no authentication of its own: any local user, and any web page the user visits
(a page may open a WebSocket to localhost), would get a full app, able to start runs and write
presets. Here one aiohttp middleware on textual-serve's own application refuses every request
without the token (``?token=`` in the printed URL, then a cookie), refuses requests from another
site's page (their Origin), and caps the sessions open at once (each is an app process of
~480 MB). Imported only once textual-serve is known to be installed.
"""

from __future__ import annotations

import hmac
import re
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

#: the query parameter of the printed URL that holds the token
TOKEN_PARAM = "token"
#: a Host header as a browser sends it: a name or an address, and a port
HOST = re.compile(r"([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d+)?")


class GuardedServer(Server):
    """textual-serve's ``Server``; every request passes :meth:`guard` first."""

    def __init__(self, command: str, *, token: str, max_sessions: int, public_url: str | None = None,
                 **kwargs) -> None:
        super().__init__(command, public_url=public_url, **kwargs)
        self.token = token
        self.max_sessions = max_sessions
        self.fixed_public_url = public_url
        self.sessions = 0
        self.cookie = f"tui-rl-serve-{self.port}"  # cookies ignore ports: two servers keep theirs apart

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self.guard)
        return app

    async def on_startup(self, app: web.Application) -> None:
        """Silent: textual-serve would print its URL without the token; ``tui-rl serve`` prints its own."""

    @web.middleware
    async def guard(self, request: web.Request, handler) -> web.StreamResponse:
        refusal = self.refusal(request)
        if refusal is not None:
            raise refusal
        if request.match_info.route.name != "websocket":
            response = await handler(request)
            if self.matches(request.query.get(TOKEN_PARAM)):  # the printed URL: later requests carry a cookie
                response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict")
            return response
        if self.sessions >= self.max_sessions:
            raise web.HTTPServiceUnavailable(
                text=f"tui-rl serve: {self.max_sessions} sessions are open already (--max-sessions); close one")
        self.sessions += 1  # no await since the check: two handshakes cannot both take the last place
        try:
            return await handler(request)
        finally:
            self.sessions -= 1

    def refusal(self, request: web.Request) -> web.HTTPException | None:
        """Why ``request`` is refused, or None."""
        if not HOST.fullmatch(request.host):
            return web.HTTPBadRequest(text="tui-rl serve: a malformed Host header")
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc.lower() not in self.own_hosts(request):
            return web.HTTPForbidden(text=f"tui-rl serve: refused a request from another site's page ({origin})")
        if not (self.matches(request.query.get(TOKEN_PARAM)) or self.matches(request.cookies.get(self.cookie))):
            return web.HTTPForbidden(text="tui-rl serve: open the URL that `tui-rl serve` printed (it holds the token)")
        return None

    def own_hosts(self, request: web.Request) -> set[str]:
        """The hosts a page of ours is served from: the one the browser asked for, and --public-url's."""
        hosts = {request.host.lower()}
        if self.fixed_public_url:
            hosts.add(urlsplit(self.fixed_public_url).netloc.lower())
        return hosts

    def matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        # The page's asset and WebSocket URLs name the address the browser used (an SSH tunnel's
        # own local port, say), unless --public-url fixes them. textual-serve reads public_url
        # before its first await, so no other request sees this one's.
        self.public_url = self.fixed_public_url or f"{request.scheme}://{request.host}"
        return await super().handle_index(request)
