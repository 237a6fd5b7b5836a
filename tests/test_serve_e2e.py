"""`tui-rl serve` as a user meets it: in a real headless Chromium, driven over the Chrome DevTools
Protocol (aiohttp's websocket client, already there for textual-serve), the printed URL shows the
Setup screen, `s` typed into the page starts a run, and the frame count on the page advances. The
same real server refuses whatever comes without the printed token, a WebSocket from another site's
page, and sessions beyond its cap; its page works through a tunnel to another port; Ctrl-C ends it
cleanly.

The page draws with xterm.js on a canvas, so its text is read from xterm's own screen buffer: a
script added before the page loads keeps the ``Terminal`` that textual-serve's page creates.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import re
import time
from pathlib import Path

import pytest
from conftest import PATIENCE_S, importers, shadowing_gymnasium, stop_trainers, wait_until
from helpers import screen_frames

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

#: keeps the xterm.js Terminal the page makes (assigned as ``this.terminal``) as window.__tuiTerminal
KEEP_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer && typeof value.write === "function") window.__tuiTerminal = value;
  },
});
"""
#: the terminal's visible rows as text, or null before the terminal exists
SCREEN_TEXT = """(() => {
  const t = window.__tuiTerminal;
  if (!t) return null;
  const b = t.buffer.active, rows = [];
  for (let y = 0; y < t.rows; y++) { const line = b.getLine(b.viewportY + y); rows.push(line ? line.translateToString(true) : ""); }
  return rows.join("\\n");
})()"""


def needs(program: str, extra: str) -> None:
    """Skip without ``program`` (a module or an executable), but fail under CI, where it must be
    there. (The same as conftest's ``needs`` from the workloads work, until that lands.)"""
    if shutil.which(program) or importlib.util.find_spec(program):
        return
    message = f"needs {program} ({extra})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = PATIENCE_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the process ended with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on port {port} after {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class DevTools:
    """One page of Chromium over the DevTools protocol."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.last_id = 0

    async def send(self, method: str, **params) -> dict:
        self.last_id += 1
        await self.ws.send_json({"id": self.last_id, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json(timeout=PATIENCE_S)
            if message.get("id") == self.last_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def screen(self) -> str:
        result = await self.send("Runtime.evaluate", expression=SCREEN_TEXT, returnByValue=True)
        return result["result"].get("value") or ""

    async def wait_for(self, predicate, what: str, timeout: float = PATIENCE_S) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = await self.screen()
            if predicate(shown):
                return shown
            await asyncio.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what}; the page shows:\n{shown}")

    async def type_key(self, key: str) -> None:
        await self.send("Runtime.evaluate", expression="window.__tuiTerminal.focus()")
        for kind in ("keyDown", "keyUp"):
            await self.send("Input.dispatchKeyEvent", type=kind, key=key, text=key if kind == "keyDown" else "",
                            code=f"Key{key.upper()}", windowsVirtualKeyCode=ord(key.upper()))


class Served:
    """A running `tui-rl serve`: its printed URL (with the token), its port, its output so far."""

    def __init__(self, process: subprocess.Popen, log: Path, port: int) -> None:
        self.process, self.log, self.port = process, log, port
        self.url = wait_until(self.printed_url, what="the URL tui-rl serve prints")
        wait_for_port(port, process)

    def printed_url(self) -> str | None:
        found = re.search(r"at (https?://\S+\?token=\S+)", self.output())
        return found and found.group(1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def serve(tmp_path):
    """Starts `tui-rl serve ARGS` on a free port of 127.0.0.1, runs in tmp_path/runs; stops it after."""
    needs("textual_serve", "tui-rl[serve]")
    started: list[Served] = []
    runs = tmp_path / "runs"

    def start(*args: str) -> Served:
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "tui_rl.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                 "--runs-dir", str(runs), *args],
                cwd=tmp_path, start_new_session=True, stdout=out, stderr=subprocess.STDOUT,
            )
        started.append(Served(process, log, port))
        return started[-1]

    yield start
    for served in started:
        stop(served.process)
    stop_trainers(runs)


@pytest.fixture
def served(serve) -> Served:
    """`tui-rl serve` on the default preset."""
    return serve()


@pytest.fixture
def chromium(tmp_path):
    """Headless Chromium with its DevTools port; yields that port."""
    needs("chromium", "the chromium Debian package")
    profile = tmp_path / "chromium-profile"
    browser = subprocess.Popen(
        ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}",
         "--window-size=1280,800", "about:blank"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + PATIENCE_S
        while not (active.is_file() and active.read_text().strip()):
            assert browser.poll() is None and time.monotonic() < deadline, "chromium did not start"
            time.sleep(0.2)
        yield int(active.read_text().split()[0])
    finally:
        stop(browser)


async def test_the_browser_shows_setup_starts_a_run_and_the_frames_advance(serve, chromium, tmp_path):
    """Served from a folder holding a ``gymnasium.py``: neither the app nor its trainer imports it."""
    import aiohttp

    shadowing_gymnasium(tmp_path, tmp_path / "imported")
    served = serve()

    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{chromium}/json/list") as answer:
            pages = [t for t in json.loads(await answer.text()) if t["type"] == "page"]
        async with session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            page = DevTools(ws)
            await page.send("Page.enable")
            await page.send("Page.addScriptToEvaluateOnNewDocument", source=KEEP_TERMINAL)
            await page.send("Page.navigate", url=served.url)

            setup = await page.wait_for(lambda s: "Environment" in s and "Hyperparameters" in s, "the Setup screen")
            assert "Start" in setup
            await page.type_key("s")
            first = await page.wait_for(lambda s: (screen_frames(s) or 0) > 0, "the run to start")
            later = await page.wait_for(lambda s: (screen_frames(s) or 0) > screen_frames(first), "more frames")
            assert "RUNNING" in later
    assert importers(tmp_path / "imported") == []


async def refused(session, url: str, **headers) -> int:
    """The status a WebSocket handshake to ``url`` is refused with (fails if it is accepted)."""
    import aiohttp

    with pytest.raises(aiohttp.WSServerHandshakeError) as refusal:
        async with session.ws_connect(url, headers=headers):
            pass
    return refusal.value.status


async def first_screen(ws) -> bytes:
    """The app's first bytes on the WebSocket: a session is an app that draws."""
    import aiohttp

    while True:
        message = await ws.receive(timeout=PATIENCE_S)
        assert message.type == aiohttp.WSMsgType.BINARY, f"the session ended: {message}"
        if message.data:
            return message.data


async def test_nothing_is_served_without_the_printed_token(served):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        for path in ("/", "/static/js/textual.js", "/?token=not-the-token-of-this-server"):
            async with session.get(served.origin + path) as answer:
                assert answer.status == 403, path
                assert "open the URL that `tui-rl serve` printed" in await answer.text()
        assert await refused(session, served.origin + "/ws?width=80&height=24") == 403


async def test_the_printed_url_opens_the_app_but_a_page_of_another_site_is_refused(served):
    """The reliability campaign's attack: a page of evil.example opening a WebSocket to the served
    port (its browser holds the cookie) sent keys that deleted a run."""
    import aiohttp

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(served.url) as answer:
            assert answer.status == 200 and "textual" in await answer.text()
        ws_url = served.origin + "/ws?width=80&height=24"  # the cookie carries the token from here on
        assert await refused(session, ws_url, Origin="http://evil.example") == 403
        async with session.ws_connect(ws_url, headers={"Origin": served.origin}) as ws:
            assert await first_screen(ws)


async def test_sessions_beyond_the_cap_are_refused(serve):
    import aiohttp

    served = serve("--max-sessions", "1")
    ws_url = served.url.replace("/?", "/ws?width=80&height=24&")
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_url) as first:
            await first_screen(first)
            assert await refused(session, ws_url) == 503
        # the first page closed: its place is free once its app has ended
        deadline = time.monotonic() + PATIENCE_S
        while True:
            try:
                async with session.ws_connect(ws_url) as again:
                    assert await first_screen(again)
                    break
            except aiohttp.WSServerHandshakeError as refusal:
                assert refusal.status == 503 and time.monotonic() < deadline, "the closed page's place stayed taken"
                await asyncio.sleep(0.2)


async def test_the_page_names_the_address_the_browser_used_or_the_public_url(serve):
    """An SSH tunnel from another local port (`ssh -L 9999:localhost:8000`): the browser asks for
    localhost:9999, and the page's assets and WebSocket must be there too."""
    import aiohttp

    tunnelled, proxied = serve(), serve("--public-url", "https://rl.example.org/")
    async with aiohttp.ClientSession() as session:
        async with session.get(tunnelled.url, headers={"Host": "localhost:9999"}) as answer:
            page = await answer.text()
        assert 'href="http://localhost:9999/static/css/xterm.css"' in page
        assert 'data-session-websocket-url="ws://localhost:9999/ws"' in page
        async with session.get(proxied.url.replace("https://rl.example.org", proxied.origin)) as answer:
            page = await answer.text()
        assert 'data-session-websocket-url="wss://rl.example.org/ws"' in page
    assert "https://rl.example.org/?token=" in proxied.output()


async def test_ctrl_c_with_a_session_open_ends_serving_cleanly(served):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(served.url.replace("/?", "/ws?width=80&height=24&")) as ws:
            await first_screen(ws)
            os.killpg(served.process.pid, signal.SIGINT)  # what Ctrl-C in its terminal sends
            assert served.process.wait(timeout=PATIENCE_S) == 0
    assert "Traceback" not in served.output() and "Event loop is closed" not in served.output()


def test_a_host_beyond_this_machine_is_warned_about(serve):
    served = serve("--host", "0.0.0.0")
    assert "WARNING: --host 0.0.0.0 serves the app beyond this machine" in served.output()
