"""The dashboard in a real headless Chromium against the real shm-admin server.

Runs in `make test` (which sets SHM_ADMIN_BIN to the built binary and TEST_OUT to the output
directory). Needs Debian's `chromium` and `chromium-driver` and Selenium from PyPI.

One server per module, started on port 0 with a temporary state directory and the repository's
static/ directory (two more for the restart and protected-read cases; the restart reuses the
first one's port and state directory). Every section this module makes is named with a unique
per-run prefix and removed from /dev/shm at the end, whatever happens.

What the page must offer the test (stable hooks, not styling): data-testid="sections-table" with
rows tr[data-section=NAME] (data-managed), "create-button", dialog fields "field-<name>" and
"dialog-submit", "grow-button", "delete-button", "delete-info" / "delete-mappers" li[data-pid],
"hexview" (data-state) with rows tr[data-offset] (.hex-bytes, .hex-ascii), "hex-goto" and
"hex-goto-button", "pagemap" (data-commit, data-reserve, data-data-bytes, data-states),
"pagemap-legend", "conn-status" (data-state live / reconnecting / polling), "token-status"
(data-state admin / readonly), "readonly-note", "hex-unavailable", body[data-ready].
Screenshots go to TEST_OUT: dashboard-overview.png, dashboard-detail.png,
dashboard-detail-dark.png, dashboard-narrow-dark.png.
"""

import json
import os
import pathlib
import queue
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

BIN = os.environ.get("SHM_ADMIN_BIN")
if not BIN:
    pytest.skip(
        "SHM_ADMIN_BIN is not set: these tests need the built shm-admin binary (`make test` sets it)",
        allow_module_level=True,
    )

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (scripts/setup test)")
from selenium.common.exceptions import (  # noqa: E402
    ElementClickInterceptedException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
STATIC = REPO / "static"
OUT = pathlib.Path(os.environ.get("TEST_OUT") or REPO / "test-output")
SHM_DIR = pathlib.Path("/dev/shm")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PREFIX = f"t-dash-{os.getpid()}-{secrets.token_hex(3)}-"
WAIT = 10  # seconds, for anything the page should show
START_WAIT = 30  # seconds, for the server to print its address

# A helper process that creates ("create") or opens ("open") a section with
# multiprocessing.shared_memory, maps it, says "ready <pid>", and holds it until stdin closes.
# Python before 3.13 registers even opened segments with the resource tracker, which would
# unlink them at exit; unregistering leaves cleanup to this test.
HOLDER = r"""
import os, sys
from multiprocessing import resource_tracker, shared_memory
name, how, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = shared_memory.SharedMemory(name=name, create=(how == "create"), size=size if how == "create" else 0)
resource_tracker.unregister(m._name, "shared_memory")
m.buf[:11] = b"from python"
print("ready", os.getpid(), flush=True)
sys.stdin.read()
m.close()
"""


# ---------------------------------------------------------------------------------------------
# Fixtures: server, cleanup, browser


class Server:
    """One shm-admin process: started on a port (0: any), stopped with SIGTERM, then kill."""

    def __init__(self, state_dir, port=0, extra=(), log_name="dashboard-server.log"):
        self.state_dir = state_dir
        self.log_path = OUT / log_name
        self.base = self.token = None
        OUT.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--port", str(port), "--state-dir", str(state_dir), "--static-dir", str(STATIC), *extra],
            stdout=subprocess.PIPE,
            stderr=self.log,
            stdin=subprocess.DEVNULL,
        )
        lines = queue.Queue()

        def pump():
            for raw in self.proc.stdout:
                self.log.write(raw)
                self.log.flush()
                lines.put(raw.decode(errors="replace").strip())
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        seen = []
        deadline = time.monotonic() + START_WAIT
        while (self.base is None or self.token is None) and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            seen.append(line)
            m = re.search(r"shm-admin listening on (http://127\.0\.0\.1:\d+)/", line)
            if m:
                self.base = m.group(1)
            m = re.search(r"dashboard: http://[^#\s]+/#token=([0-9A-Za-z_\-.~%]+)", line)
            if m:
                self.token = m.group(1)
        if self.base is None or self.token is None:
            self.stop()
            pytest.fail(
                f"shm-admin did not print its address and dashboard token within {START_WAIT} s "
                f"(exit code {self.proc.poll()}); stdout so far: {seen!r}; stderr in {self.log_path}"
            )

    @property
    def port(self):
        return int(self.base.rsplit(":", 1)[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()

    def api(self, method, path, body=None, data=None, token=True):
        """One API request with urllib; returns (status, parsed JSON or None)."""
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif data is not None:
            headers["Content-Type"] = "application/octet-stream"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=WAIT) as res:
                raw = res.read()
                return res.status, (json.loads(raw) if raw and "json" in res.headers.get("Content-Type", "") else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, None

    def section(self, name):
        return self.api("GET", "/api/v1/sections/" + urllib.parse.quote(name, safe=""))


@pytest.fixture(scope="module")
def dash_state(tmp_path_factory):
    for old in OUT.glob("dashboard-*"):  # this run's logs, screenshots and failure shots only
        old.unlink()
    return tmp_path_factory.mktemp("shm-admin-dash")


@pytest.fixture(scope="module")
def dash_server(dash_state):
    srv = Server(dash_state / "state")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module", autouse=True)
def dash_cleanup():
    """Stops helper processes and removes every /dev/shm object with this run's prefix."""
    helpers = []
    yield helpers
    for p in helpers:
        stop_helper(p)
    for path in SHM_DIR.glob(PREFIX + "*"):
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    left = sorted(p.name for p in SHM_DIR.glob(PREFIX + "*"))
    assert not left, f"could not remove {left}"


@pytest.fixture(scope="module")
def browser(dash_server):
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


def start_chromium():
    """Headless Chromium at 1280x800 in the light theme (test_dashboard_host.py starts its own too)."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip(f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER})")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",  # Chromium's own shared memory would otherwise show up in /dev/shm
        "--window-size=1280,800",
        "--force-device-scale-factor=1",
        "--no-first-run",
        "--disable-extensions",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(WAIT * 2)
    driver.set_script_timeout(WAIT)
    light(driver)
    return driver


# ---------------------------------------------------------------------------------------------
# Helpers


def light(driver):
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "light"}]}
    )
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False}
    )


def wait_for(driver, condition, what, timeout=WAIT):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d))
    except TimeoutException:
        shot = OUT / f"dashboard-failure-{re.sub(r'[^a-z0-9]+', '-', what.lower())[:60]}.png"
        driver.save_screenshot(str(shot))
        banner = driver.execute_script(
            "const e = document.querySelector('[data-testid=error-banner]'); return e ? e.innerText : '';"
        )
        logs = [f"{e['level']} {e['message'][:200]}" for e in driver.get_log("browser")][-8:]
        raise AssertionError(
            f"timed out after {timeout} s waiting for {what} (screenshot {shot}); page {driver.current_url}; "
            f"error banner: {banner!r}; last browser log: {logs}"
        ) from None


def css(driver, selector):
    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0] if found else None


def click(driver, selector, what=None):
    """Clicks the element; the live table re-renders, so a stale or covered element is looked up again."""

    def attempt(d):
        el = css(d, selector)
        if el is None:
            return False
        try:
            d.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
            el.click()
            return True
        except (StaleElementReferenceException, ElementClickInterceptedException):
            return False

    wait_for(driver, attempt, what or f"a click on {selector}")


def props(driver, selector):
    """Reads an element's state in one script call: no stale reference when the live page re-renders it."""
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "return e ? {disabled: !!e.disabled, title: e.title || '', text: e.innerText, data: {...e.dataset}} : null;",
        selector,
    )


def row_selector(name):
    return f'[data-testid="sections-table"] tr[data-section="{name}"]'


def open_dashboard(driver, server):
    driver.get(f"{server.base}/#token={server.token}")
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready === 'true'"), "the app to start")


def select_section(driver, name):
    click(driver, row_selector(name) + ' [data-testid="select-section"]', f"row {name}")
    wait_for(
        driver,
        lambda d: d.execute_script(
            "const p = document.querySelector('[data-testid=detail]');"
            "return p && !p.hidden && p.dataset.section === arguments[0];",
            name,
        ),
        f"the detail of {name}",
    )


def fill(driver, field, text):
    el = css(driver, f'dialog [data-testid="field-{field}"]')
    assert el is not None, f"dialog field {field}"
    el.clear()
    el.send_keys(text)


def start_helper(cleanup, name, how, size=0):
    p = subprocess.Popen(
        [sys.executable, "-c", HOLDER, name, how, str(size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cleanup.append(p)
    result = {}

    def read():
        result["line"] = p.stdout.readline()

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(WAIT)
    line = result.get("line", "")
    assert line.startswith("ready"), f"helper for {name} did not start: {line!r} {p.poll()}"
    return p


def stop_helper(p):
    if p.poll() is None:
        try:
            p.stdin.close()
            p.wait(timeout=5)
        except (subprocess.TimeoutExpired, OSError):
            p.kill()
            p.wait(timeout=5)


def save(driver, filename):
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / filename
    driver.save_screenshot(str(path))
    return path


def hex_row(driver, offset):
    """(hex, ascii) texts of the hex viewer's row at offset, or None."""
    return driver.execute_script(
        "const r = document.querySelector(`[data-testid=hexview] tr[data-offset='${arguments[0]}']`);"
        "return r ? [r.querySelector('.hex-bytes').textContent, r.querySelector('.hex-ascii').textContent] : null;",
        offset,
    )


def canvas_data(driver):
    return driver.execute_script("return {...document.querySelector('[data-testid=pagemap]').dataset};")


# ---------------------------------------------------------------------------------------------
# The flow (tests run in file order and share the browser and the dash_server)

UI_SECTION = PREFIX + "ui"


def test_loads_with_token(browser, dash_server):
    open_dashboard(browser, dash_server)
    assert "token=" not in browser.current_url, "the token must leave the address bar"
    assert browser.execute_script("return sessionStorage.getItem('shm-admin.token')") == dash_server.token
    wait_for(browser, lambda d: css(d, '[data-testid="token-status"][data-state="admin"]'), "the admin token state")
    wait_for(browser, lambda d: css(d, '[data-testid="conn-status"][data-state="live"]'), "the live event stream")
    assert css(browser, '[data-testid="create-button"]').is_enabled()
    wait_for(browser, lambda d: css(d, '[data-testid="count-sections"] .stat-value'), "the overview counts")
    wait_for(browser, lambda d: css(d, '[data-testid="capacity"]'), "the capacity gauge")


def test_mounts_strip_shows_the_servers_mount(browser, dash_server):
    """The whole host (API-HOST.md): one gauge per shared-memory mount, the server's own first."""
    open_dashboard(browser, dash_server)
    status, body = dash_server.api("GET", "/api/v1/mounts")
    assert status == 200
    mounts = body["mounts"]
    # The strip is redrawn with each refresh: read it in one script, not through element handles.
    shown = wait_for(browser, lambda d: d.execute_script(
        "const items = [...document.querySelectorAll('[data-testid=mounts] li')];"
        "return items.length ? items.map(e => [e.dataset.mount, e.dataset.host, e.innerText]) : null;"),
        "the mounts strip")
    assert shown[0][0] == mounts[0]["id"] and shown[0][1] == "true" and "server" in shown[0][2]
    assert {m[0] for m in shown} <= {m["id"] for m in mounts} | {shown[0][0]}


def test_create_section_through_ui(browser, dash_server):
    click(browser, '[data-testid="create-button"]')
    wait_for(browser, lambda d: css(d, 'dialog[open] [data-testid="create-form"]'), "the create dialog")
    fill(browser, "name", UI_SECTION)
    fill(browser, "reserve", "1MiB")
    fill(browser, "commit", "64KiB")
    fill(browser, "labels", "suite=dashboard")
    click(browser, 'dialog [data-testid="dialog-submit"]')
    wait_for(browser, lambda d: not css(d, "dialog[open]"), "the create dialog to close")
    wait_for(browser, lambda d: css(d, row_selector(UI_SECTION)), f"row {UI_SECTION} in the table")
    status, body = dash_server.section(UI_SECTION)
    assert status == 200, body
    assert body["managed"] is True
    assert body["reserve"] == 1 << 20 and body["commit"] == 64 << 10
    assert body["labels"] == {"suite": "dashboard"}
    assert (SHM_DIR / UI_SECTION).exists()
    browser.execute_script("window.scrollTo(0, 0)")
    save(browser, "dashboard-overview.png")


def test_bytes_written_through_api_show_in_hexview(browser, dash_server):
    select_section(browser, UI_SECTION)
    wait_for(browser, lambda d: css(d, '[data-testid="hexview"][data-state="ok"]'), "the hex viewer")
    path = "/api/v1/sections/" + urllib.parse.quote(UI_SECTION, safe="")
    status, body = dash_server.api("PUT", path + "/data?offset=0", data=b"Hello from the dashboard test\x00\x01\xff")
    assert status == 200 and body["written"] == 32, body
    # The open detail updates from the event stream, without a reload or a click.
    wait_for(
        browser,
        lambda d: (r := hex_row(d, 0)) and r[0].startswith("48 65 6c 6c 6f") and r[1].startswith("Hello from the d"),
        "the written bytes in the hex viewer",
    )
    assert hex_row(browser, 16)[0].split()[-3:] == ["00", "01", "ff"]

    status, body = dash_server.api("PUT", path + "/data?offset=8192", data=b"MARK-AT-0x2000")
    assert status == 200, body
    goto = css(browser, '[data-testid="hex-goto"]')
    goto.clear()
    goto.send_keys("0x2000")
    click(browser, '[data-testid="hex-goto-button"]')
    wait_for(
        browser,
        lambda d: (r := hex_row(d, 8192)) and r[1].startswith("MARK-AT-0x2000"),
        "the hex viewer at offset 0x2000",
    )
    # Two pages now hold data, and the page map says so without a reload.
    wait_for(browser, lambda d: int(canvas_data(d).get("dataBytes") or 0) >= 8192, "data runs in the page map")
    assert "data=0" not in canvas_data(browser)["states"]


def test_grow_changes_page_map(browser, dash_server):
    select_section(browser, UI_SECTION)
    wait_for(browser, lambda d: canvas_data(d).get("commit") == str(64 << 10), "the page map at 64 KiB")
    before = canvas_data(browser)
    legend_before = css(browser, '[data-testid="pagemap-legend"]').text
    click(browser, '[data-testid="grow-button"]')
    wait_for(browser, lambda d: css(d, 'dialog[open] [data-testid="grow-form"]'), "the grow dialog")
    Select(css(browser, 'dialog [data-testid="field-how"]')).select_by_value("commit")
    fill(browser, "size", "256KiB")
    click(browser, 'dialog [data-testid="dialog-submit"]')
    wait_for(browser, lambda d: not css(d, "dialog[open]"), "the grow dialog to close")
    wait_for(browser, lambda d: canvas_data(d).get("commit") == str(256 << 10), "the page map at 256 KiB")
    after = canvas_data(browser)
    assert after["reserve"] == before["reserve"] == str(1 << 20)
    assert css(browser, '[data-testid="pagemap-legend"]').text != legend_before
    assert "reserved 768 KiB" in css(browser, '[data-testid="pagemap-legend"]').text
    status, body = dash_server.section(UI_SECTION)
    assert status == 200 and body["commit"] == 256 << 10, body
    browser.execute_script("document.querySelector('[data-testid=detail]').scrollIntoView()")
    save(browser, "dashboard-detail.png")
    # The same view in the dark theme and in a narrow window, for people to look at.
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
    )
    time.sleep(0.3)  # the page map redraws on the theme change
    save(browser, "dashboard-detail-dark.png")
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 420, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    )
    browser.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.3)
    save(browser, "dashboard-narrow-dark.png")
    light(browser)


def test_section_made_by_another_process_appears(browser, dash_server, dash_cleanup):
    name = PREFIX + "ext"
    browser.execute_script("window.__noReloadMarker = 42;")
    start_helper(dash_cleanup, name, "create", 8192)
    wait_for(browser, lambda d: css(d, row_selector(name)), f"row {name} made by another process")
    assert browser.execute_script("return window.__noReloadMarker") == 42, "the page reloaded"
    assert props(browser, row_selector(name))["data"]["managed"] == "false"


def test_delete_names_the_mapping_process_then_forces(browser, dash_server, dash_cleanup):
    name = PREFIX + "mapped"
    status, body = dash_server.api("POST", "/api/v1/sections", body={"name": name, "reserve": "64KiB"})
    assert status == 201, body
    helper = start_helper(dash_cleanup, name, "open")
    pid = helper.pid

    def mapped(_):
        status, body = dash_server.section(name)
        return status == 200 and any(m["pid"] == pid for m in body.get("mapperList", []))

    deadline = time.monotonic() + WAIT
    while not mapped(None):
        assert time.monotonic() < deadline, f"the server never listed pid {pid} as a mapper of {name}"
        time.sleep(0.2)

    select_section(browser, name)
    click(browser, '[data-testid="delete-button"]')
    wait_for(browser, lambda d: css(d, 'dialog[open] [data-testid="delete-form"]'), "the delete dialog")
    submit = css(browser, 'dialog [data-testid="dialog-submit"]')
    wait_for(browser, lambda d: submit.get_attribute("data-force") in ("true", "false"), "the mapper check")
    if submit.get_attribute("data-force") == "false":
        submit.click()  # the server answers 409 with the pids; the dialog then names them
    item = f'dialog [data-testid="delete-mappers"] li[data-pid="{pid}"]'
    wait_for(browser, lambda d: css(d, item), f"the confirmation naming pid {pid}")
    assert f"pid {pid}" in css(browser, 'dialog [data-testid="delete-info"]').text
    assert submit.get_attribute("data-force") == "true"
    assert (SHM_DIR / name).exists(), "nothing may be deleted before the forced confirmation"
    submit.click()
    wait_for(browser, lambda d: not css(d, "dialog[open]"), "the delete dialog to close")
    wait_for(browser, lambda d: not css(d, row_selector(name)), f"row {name} to go")
    status, _ = dash_server.section(name)
    assert status == 404
    assert not (SHM_DIR / name).exists()


def test_without_token_actions_say_why(browser, dash_server):
    browser.execute_script("sessionStorage.removeItem('shm-admin.token');")
    browser.get(dash_server.base + "/")
    wait_for(browser, lambda d: d.execute_script("return document.body.dataset.ready === 'true'"), "the app to start")
    wait_for(browser, lambda d: css(d, '[data-testid="token-status"][data-state="readonly"]'), "the read-only state")
    create = props(browser, '[data-testid="create-button"]')
    assert create["disabled"] and "token" in create["title"].lower(), create
    select_section(browser, UI_SECTION)
    for action in ("grow", "write", "reset", "map", "lock", "delete"):
        button = props(browser, f'[data-testid="{action}-button"]')
        assert button["disabled"] and "token" in button["title"].lower(), (action, button)
    wait_for(browser, lambda d: css(d, '[data-testid="hex-unavailable"]'), "the hex viewer's explanation")
    assert css(browser, '[data-testid="readonly-note"]').is_displayed()


def conn_state(driver):
    return driver.execute_script("return document.querySelector('[data-testid=conn-status]').dataset.state")


def test_reconnects_after_server_restart(browser, dash_state):
    state = dash_state / "restart-state"
    first = Server(state, log_name="dashboard-restart.log")
    second = None
    try:
        open_dashboard(browser, first)
        wait_for(browser, lambda d: conn_state(d) == "live", "the live event stream")
        first.stop()
        wait_for(browser, lambda d: conn_state(d) in ("reconnecting", "offline"), "the indicator to show the drop")
        second = Server(state, port=first.port, log_name="dashboard-restart.log")
        assert second.token == first.token, "the admin token lives in the state directory"
        wait_for(browser, lambda d: conn_state(d) == "live", "the event stream to reconnect", timeout=WAIT * 2)
        name = PREFIX + "after-restart"
        status, body = second.api("POST", "/api/v1/sections", body={"name": name, "reserve": "64KiB"})
        assert status == 201, body
        wait_for(browser, lambda d: css(d, row_selector(name)), f"row {name} after the restart")
    finally:
        first.stop()
        if second:
            second.stop()


def test_protected_read_level_falls_back_to_polling(browser, dash_state):
    token_file = dash_state / "read-token"
    token_file.write_text(secrets.token_hex(24) + "\n")
    token_file.chmod(0o600)
    srv = Server(dash_state / "protected-state", extra=["--read-token-file", str(token_file)],
                 log_name="dashboard-protected.log")
    try:
        open_dashboard(browser, srv)
        # EventSource cannot send the Bearer token, so the stream is refused and the page polls.
        wait_for(browser, lambda d: conn_state(d) == "polling", "the polling fallback")
        name = PREFIX + "polled"
        status, body = srv.api("POST", "/api/v1/sections", body={"name": name, "reserve": "64KiB"})
        assert status == 201, body
        wait_for(browser, lambda d: css(d, row_selector(name)), f"row {name} through polling")
    finally:
        srv.stop()


def test_no_script_errors(browser):
    # Script errors only: refused requests (409 on a delete, the restart's dropped stream) are
    # network entries the page handles itself.
    errors = [
        e["message"]
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE"
        and e.get("source") != "network"
        and "Failed to load resource" not in e["message"]
        and "net::ERR_" not in e["message"]
    ]
    assert not errors, errors
