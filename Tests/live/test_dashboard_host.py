"""The dashboard's whole-host parts (issues 12 and 13) in a real headless Chromium, with real peers.

Reuses test_dashboard.py's server, browser and page helpers (same Chromium, same hooks). Screenshots
for people go to TEST_OUT: dashboard-host-inventory.png, dashboard-host-sysv.png, dashboard-health.png. One server
per module whose --shm-dir is an 8 MiB tmpfs of this module's own (so the doctor test can fill it
without touching the host's /dev/shm) and whose --root-dir says RemoveIPC=no (no `removeipc` noise).

Peers: a child in a private mount namespace with its own 64 MiB /dev/shm mapping PREFIXobj and
holding a 128 MiB sparse PREFIXobj-sparse (test_host_mounts.py's container_shm), a System V
segment attached by a child, and a memfd held by a child. Every child is killed with its process
group, every segment removed and the tmpfs unmounted, whatever happens.

Hooks the page offers (on top of test_dashboard.py's): "scope-dir" / "scope-host" (aria-pressed),
rows tr[data-href] (data-kind, data-mount, data-orphan) with "select-object", "filter-kind",
"filter-mount", "filter-orphan", "filter-q"; the detail's data-href, "mappers-table" /
"holders-table" rows tr[data-pid], dd[data-field=…]; "health" with "finding" li[data-id]
[data-severity], "finding-subject" buttons (data-href), "finding-fix"; "sparkline" (data-points)
inside "mount-used-history", "mount-exposure-history", "object-history" and inventory rows;
body[data-finding-events] counts the `finding` events received.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import time
import urllib.parse

import pytest

import test_dashboard as dash  # noqa: E402  (skips this module too when the binary or selenium is missing)
from support.common import MiB
from support.host import HostChild, sysv_create, sysv_remove

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root (tmpfs, mount namespace) and unshare(1)")

css, click, fill, wait_for, open_dashboard = dash.css, dash.click, dash.fill, dash.wait_for, dash.open_dashboard
PREFIX = dash.PREFIX + "host-"
WAIT = dash.WAIT
HISTORY_WAIT = 35  # seconds: history takes a sample every 10 s, the doctor runs as often

UNSHARE_TMPFS = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                 'mount -t tmpfs -o size=64m tmpfs /dev/shm && exec "$@"', "sh"]


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def small_shm(tmp_path_factory):
    """An 8 MiB tmpfs of this module's own: the server's --shm-dir; unmounted at the end."""
    path = tmp_path_factory.mktemp("dash-host") / "shm"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=1777", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture(scope="module")
def host_server(small_shm, tmp_path_factory):
    base = tmp_path_factory.mktemp("dash-host-server")
    logind = base / "root" / "etc" / "systemd" / "logind.conf"
    logind.parent.mkdir(parents=True)
    logind.write_text("[Login]\nRemoveIPC=no\n")
    srv = dash.Server(base / "state", extra=["--shm-dir", str(small_shm), "--root-dir", str(base / "root")],
                      log_name="dashboard-host-server.log")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def peers():
    """The real peers: another mount namespace's /dev/shm, a System V segment, a memfd."""
    children = []
    shmids = []
    try:
        container = HostChild("mount", PREFIX + "obj", 128 * MiB, wrap=UNSHARE_TMPFS)
        children.append(container)
        shmid = sysv_create(1 * MiB)
        shmids.append(shmid)
        sysv = HostChild("sysv", shmid)
        children.append(sysv)
        memfd = HostChild("memfd", PREFIX + "memfd")
        children.append(memfd)
        yield {"container": container, "shmid": shmid, "sysv": sysv, "memfd": memfd}
    finally:
        for child in children:
            child.kill()
        for shmid in shmids:
            sysv_remove(shmid)


@pytest.fixture(scope="module")
def hrefs(peers, host_server):
    """The peers' hrefs, once the server's inventory shows every one of them."""
    device = peers["container"].info["device"]
    memfd = peers["memfd"].info
    major, minor = memfd["device"].split(":")
    out = {
        "obj": f"/api/v1/mounts/{device}/sections/{PREFIX}obj",
        "sparse": f"/api/v1/mounts/{device}/sections/{PREFIX}obj-sparse",
        "memfd": f"/api/v1/unlinked/{major}-{minor}:{memfd['inode']}",
        "device": device,
    }
    deadline = time.monotonic() + WAIT
    while True:
        status, body = host_server.api("GET", "/api/v1/inventory?limit=100000")
        assert status == 200, body
        by_href = {o["href"]: o for o in body["objects"]}
        sysv = [o for o in body["objects"] if o["kind"] == "sysv" and o.get("shmid") == peers["shmid"]]
        if sysv and all(out[k] in by_href for k in ("obj", "sparse", "memfd")):
            out["sysv"] = sysv[0]["href"]
            return out
        assert time.monotonic() < deadline, f"the inventory never showed the peers {out} (sysv {sysv})"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def browser(host_server):
    driver = dash.start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


# ---------------------------------------------------------------------------------------------
# Helpers


def host_row(href):
    return f'[data-testid="sections-table"] tr[data-href="{href}"]'


def show_whole_host(driver, server):
    open_dashboard(driver, server)
    click(driver, '[data-testid="scope-host"]', "the whole-host toggle")
    wait_for(driver, lambda d: d.execute_script(
        "return document.querySelector('[data-testid=scope-host]').getAttribute('aria-pressed') === 'true'"
        " && document.querySelectorAll('[data-testid=sections-table] tr[data-href]').length > 0"),
        "the inventory in the table")


def container_label(c):
    """What the page shows for an object's container (static/sections.js objectContainer)."""
    if not c or c.get("runtime") in (None, "none"):
        return "host"
    cid = c.get("id") or ""
    label = c["runtime"] + (" " + (cid[:12] if len(cid) == 64 else cid) if cid else "")
    return label + (f" pod {c['pod'][:8]}" if c.get("pod") else "")


def rows(driver):
    """[(href, kind, mount, orphan, cells)] of the table, read in one script."""
    return driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=sections-table] tr[data-href]')].map(r =>"
        " [r.dataset.href, r.dataset.kind, r.dataset.mount, r.dataset.orphan,"
        "  [...r.cells].map(c => c.innerText.trim())]);")


def open_object(driver, href):
    click(driver, host_row(href) + ' [data-testid="select-object"]', f"row {href}")
    wait_for(driver, lambda d: d.execute_script(
        "const p = document.querySelector('[data-testid=detail]');"
        "return p && !p.hidden && p.dataset.href === arguments[0] && p.dataset.kind !== '';", href),
        f"the detail of {href}")


def field(driver, name):
    return driver.execute_script(
        "const e = document.querySelector(`[data-testid=detail-meta] dd[data-field='${arguments[0]}']`);"
        "return e ? e.innerText : null;", name)


def table_row(driver, table, pid):
    return driver.execute_script(
        "const r = document.querySelector(`[data-testid=${arguments[0]}] tr[data-pid='${arguments[1]}']`);"
        "return r ? [...r.cells].map(c => c.innerText.trim()) : null;", table, str(pid))


def set_select(driver, testid, value):
    driver.execute_script(
        "const s = document.querySelector(`[data-testid=${arguments[0]}]`); s.value = arguments[1];"
        "s.dispatchEvent(new Event('change', {bubbles: true}));", testid, value)


def refused_delete_names(driver, pid):
    """Opens the guarded delete, lets the server refuse it (409) and waits for the pid it names."""
    click(driver, '[data-testid="delete-button"]')
    wait_for(driver, lambda d: css(d, 'dialog[open] [data-testid="delete-form"]'), "the delete dialog")
    wait_for(driver, lambda d: (css(d, 'dialog [data-testid="dialog-submit"]').get_attribute("data-force")
                                in ("true", "false")), "the holder check")
    if css(driver, 'dialog [data-testid="dialog-submit"]').get_attribute("data-force") == "false":
        click(driver, 'dialog [data-testid="dialog-submit"]')
    wait_for(driver, lambda d: css(d, f'dialog [data-testid="delete-mappers"] li[data-pid="{pid}"]'),
             f"the confirmation naming pid {pid}")
    assert css(driver, 'dialog [data-testid="dialog-submit"]').get_attribute("data-force") == "true"
    click(driver, 'dialog [data-testid="dialog-cancel"]')
    wait_for(driver, lambda d: not css(d, "dialog[open]"), "the dialog to close")


# ---------------------------------------------------------------------------------------------
# The inventory as a view of the sections table


def test_whole_host_lists_every_kind_with_mount_and_container(browser, host_server, peers, hrefs):
    show_whole_host(browser, host_server)
    wanted = {hrefs[k] for k in ("obj", "sparse", "sysv", "memfd")}
    shown = wait_for(browser, lambda d: (r := {row[0]: row for row in rows(d)}) and wanted <= set(r) and r,
                     "the peers' rows in the whole-host table")
    device = hrefs["device"]
    obj = shown[hrefs["obj"]]
    assert obj[1] == "shm" and obj[2] == device and obj[3] == "false", obj
    assert obj[4][0] == PREFIX + "obj" and obj[4][2] == device
    status, detail = host_server.api("GET", hrefs["obj"])
    assert status == 200 and obj[4][3] == container_label(detail["container"]), (obj, detail["container"])
    sparse = shown[hrefs["sparse"]]
    assert sparse[3] == "true" and "orphan" in sparse[4][0]
    assert sparse[4][5] == "128 MiB", "its unbacked bytes"
    sysv = shown[hrefs["sysv"]]
    assert sysv[1] == "sysv" and sysv[4][2].startswith("ipc ")
    assert sysv[4][0] == f"private · shmid {peers['shmid']}", "an IPC_PRIVATE segment is told apart by its shmid"
    memfd = shown[hrefs["memfd"]]
    assert memfd[1] == "memfd" and memfd[4][0] == PREFIX + "memfd" and memfd[4][2] == "—"
    browser.execute_script("document.querySelector('[data-testid=sections-panel]').scrollIntoView()")
    dash.save(browser, "dashboard-host-inventory.png")
    # The directory scope is the server's own shm directory again: none of the peers' rows.
    click(browser, '[data-testid="scope-dir"]')
    wait_for(browser, lambda d: not css(d, 'tr[data-href]') and css(d, '[data-testid="filter-owner"]').is_displayed(),
             "the directory scope")


def test_whole_host_filters_by_kind_mount_orphan_and_text(browser, host_server, peers, hrefs):
    show_whole_host(browser, host_server)
    device = hrefs["device"]

    set_select(browser, "filter-kind", "sysv")
    wait_for(browser, lambda d: (r := rows(d)) and all(x[1] == "sysv" for x in r) and hrefs["sysv"] in [x[0] for x in r],
             "only System V rows")
    set_select(browser, "filter-kind", "")
    wait_for(browser, lambda d: d.execute_script(
        "return [...document.querySelectorAll('[data-testid=filter-mount] option')].some(o => o.value === arguments[0])",
        device), "the namespace's mount in the mount filter")
    set_select(browser, "filter-mount", device)
    wait_for(browser, lambda d: sorted(x[0] for x in rows(d)) == sorted([hrefs["obj"], hrefs["sparse"]]),
             f"only mount {device}'s objects")
    click(browser, '[data-testid="filter-orphan"]')
    wait_for(browser, lambda d: [x[0] for x in rows(d)] == [hrefs["sparse"]], "only the orphan of that mount")
    click(browser, '[data-testid="filter-orphan"]')
    set_select(browser, "filter-mount", "")
    q = css(browser, '[data-testid="filter-q"]')
    q.clear()
    q.send_keys(PREFIX + "mem")
    wait_for(browser, lambda d: [x[0] for x in rows(d)] == [hrefs["memfd"]], "the text filter")
    q.clear()
    q.send_keys(" ")  # clear() sends no input event; a blank and a backspace do
    q.send_keys("\b")
    wait_for(browser, lambda d: len(rows(d)) >= 4, "every object again")


def test_another_mounts_object_shows_mappers_memory_bytes_and_guarded_delete(browser, host_server, peers, hrefs):
    child = peers["container"]
    show_whole_host(browser, host_server)
    open_object(browser, hrefs["obj"])
    mapper = wait_for(browser, lambda d: table_row(d, "mappers-table", child.pid), "the child in the mappers table")
    # pid, command, range, offset, access, RSS, PSS, swap
    assert mapper[4] == "rw" and mapper[5] not in ("—", "0 B") and mapper[6] != "—", mapper
    assert table_row(browser, "holders-table", child.pid), "the child holds it open"
    status, detail = host_server.api("GET", hrefs["obj"])
    assert field(browser, "mount") == hrefs["device"]
    assert field(browser, "container").startswith(container_label(detail["container"]))
    assert field(browser, "unbacked") == "0"
    # Its bytes through the hex view (admin token), read from inside the other namespace.
    wait_for(browser, lambda d: (r := dash.hex_row(d, 0)) and r[1].startswith("inside-namespace"), "the object's bytes")
    wait_for(browser, lambda d: dash.canvas_data(d).get("commit") == "65536", "its page map")
    # The guarded delete names the pid that maps it (409) and deletes nothing without force.
    refused_delete_names(browser, child.pid)
    status, _ = host_server.api("GET", hrefs["obj"])
    assert status == 200, "nothing may be deleted before the forced confirmation"

    # The sparse orphan: its unbacked bytes.
    open_object(browser, hrefs["sparse"])
    wait_for(browser, lambda d: field(d, "unbacked") == "128 MiB", "the sparse object's unbacked bytes")

    # An object of that mount nobody holds (made through the child's root): the delete goes through at once.
    spare = f"{PREFIX}spare"
    (pathlib.Path(f"/proc/{child.pid}/root/dev/shm") / spare).write_bytes(b"s" * 4096)
    spare_href = f"/api/v1/mounts/{hrefs['device']}/sections/{spare}"
    wait_for(browser, lambda d: css(d, host_row(spare_href)), "the new object's row", timeout=WAIT * 2)
    open_object(browser, spare_href)
    click(browser, '[data-testid="delete-button"]')
    wait_for(browser, lambda d: css(d, 'dialog [data-testid="dialog-submit"][data-force="false"]'), "the delete dialog")
    click(browser, 'dialog [data-testid="dialog-submit"]')
    wait_for(browser, lambda d: not css(d, "dialog[open]"), "the delete dialog to close")
    wait_for(browser, lambda d: not css(d, host_row(spare_href)), "the deleted object's row to go")
    assert host_server.api("GET", spare_href)[0] == 404
    assert not (pathlib.Path(f"/proc/{child.pid}/root/dev/shm") / spare).exists()


def test_system_v_segment_shows_its_attacher_and_bytes(browser, host_server, peers, hrefs):
    child = peers["sysv"]
    show_whole_host(browser, host_server)
    open_object(browser, hrefs["sysv"])
    mapper = wait_for(browser, lambda d: table_row(d, "mappers-table", child.pid), "the attaching child")
    assert mapper[5] not in ("—", "0 B"), f"RSS of the 3 touched pages: {mapper}"
    assert field(browser, "attached processes") == "1"
    assert field(browser, "shmid") == str(peers["shmid"])
    wait_for(browser, lambda d: (r := dash.hex_row(d, 0)) and r[0].startswith("5a 5a 5a"), "the segment's bytes")
    browser.execute_script("document.querySelector('[data-testid=detail]').scrollIntoView()")
    dash.save(browser, "dashboard-host-sysv.png")
    refused_delete_names(browser, child.pid)
    assert host_server.api("GET", hrefs["sysv"])[0] == 200


def test_memfd_shows_its_holder_and_bytes_and_offers_no_delete(browser, host_server, peers, hrefs):
    child = peers["memfd"]
    show_whole_host(browser, host_server)
    open_object(browser, hrefs["memfd"])
    wait_for(browser, lambda d: table_row(d, "holders-table", child.pid), "the holding child")
    assert css(browser, '[data-testid="delete-button"]') is None, "the API has no delete for a memfd"
    assert "no name to delete" in css(browser, '[data-testid="readonly-note"]').text
    wait_for(browser, lambda d: (r := dash.hex_row(d, 0)) and r[1].startswith("memfd-bytes"), "the memfd's bytes")


# ---------------------------------------------------------------------------------------------
# History sparklines


def test_history_sparklines_in_the_mounts_strip_and_the_largest_objects(browser, host_server, peers, hrefs):
    open_dashboard(browser, host_server)

    def history_with_two_samples(_):
        status, body = host_server.api("GET", "/api/v1/history")
        assert status == 200, body
        mount = body["mounts"].get(hrefs["device"], [])
        return body if len(mount) >= 2 and body["sections"] else None

    history = wait_for(browser, history_with_two_samples, "two history samples of the namespace's mount",
                       timeout=HISTORY_WAIT)
    device = hrefs["device"]

    def points(d, testid):
        return d.execute_script(
            "const e = document.querySelector(`[data-testid=mounts] li[data-mount='${arguments[0]}'] "
            "[data-testid=${arguments[1]}] [data-testid=sparkline]`); return e ? Number(e.dataset.points) : 0;",
            device, testid)

    # The page reloads history with its 10 s refresh: wait for both of the mount's lines.
    wait_for(browser, lambda d: points(d, "mount-used-history") >= 2 and points(d, "mount-exposure-history") >= 2,
             "the mount's used and exposure sparklines", timeout=HISTORY_WAIT)
    line = browser.execute_script(
        "return document.querySelector(`[data-testid=mounts] li[data-mount='${arguments[0]}'] "
        "[data-testid=mount-exposure-history] [data-testid=sparkline]`).getAttribute('aria-label')", device)
    assert "128 MiB" in line, f"the exposure of the sparse object: {line}"

    # The largest objects: the first the history keeps that the inventory lists has a line in its row.
    click(browser, '[data-testid="scope-host"]')
    listed = wait_for(browser, lambda d: (r := {x[0] for x in rows(d)}) and r, "the inventory")
    href = next(h for h in history["sections"] if h in listed)
    wait_for(browser, lambda d: d.execute_script(
        "const e = document.querySelector(`tr[data-href='${arguments[0]}'] [data-testid=sparkline]`);"
        "return e && Number(e.dataset.points) >= 1;", href), f"the sparkline in {href}'s row")
    open_object(browser, href)
    wait_for(browser, lambda d: d.execute_script(
        "const e = document.querySelector('[data-testid=object-history] [data-testid=sparkline]');"
        "return e && Number(e.dataset.points) >= 1;"), "the sparkline in the detail")


# ---------------------------------------------------------------------------------------------
# The health panel


def test_a_full_tmpfs_shows_in_the_health_panel_with_its_fix_and_opens_its_subjects(
        browser, host_server, small_shm, peers, hrefs):
    open_dashboard(browser, host_server)
    mount = f"{os.major(os.stat(small_shm).st_dev)}:{os.minor(os.stat(small_shm).st_dev)}"
    finding = '[data-testid="health"] li[data-testid="finding"][data-id="shm-full"][data-severity="critical"]'
    wait_for(browser, lambda d: css(d, '[data-testid="health"]') and css(d, '[data-testid="health"]').is_displayed(),
             "the health panel")
    assert css(browser, finding) is None, "the tmpfs is not full yet"
    events_before = int(browser.execute_script("return document.body.dataset.findingEvents || '0'"))
    filler = small_shm / (PREFIX + "filler")
    with open(filler, "wb") as f:
        try:
            for _ in range(8 * 16):  # at most 8 MiB, in 64 KiB steps, until the tmpfs is full
                f.write(b"\xff" * (64 * 1024))
                f.flush()
        except OSError:
            pass
    # The doctor's 10 s run raises the `finding` event; the panel refreshes on it without a reload.
    wait_for(browser, lambda d: css(d, finding), "shm-full critical in the health panel", timeout=HISTORY_WAIT)
    wait_for(browser, lambda d: int(d.execute_script("return document.body.dataset.findingEvents || '0'")) > events_before,
             "the finding event", timeout=HISTORY_WAIT)
    text = css(browser, finding).text
    status, report = host_server.api("GET", "/api/v1/doctor")
    [api_finding] = [f for f in report["findings"] if f["id"] == "shm-full" and f["evidence"].get("mount") == mount]
    assert api_finding["title"] in text and api_finding["fix"] in text
    assert css(browser, finding + ' [data-testid="finding-fix"]').text.startswith("Fix:")
    browser.execute_script("window.scrollTo(0, 0)")
    dash.save(browser, "dashboard-health.png")
    # Worst first.
    severities = browser.execute_script(
        "return [...document.querySelectorAll('[data-testid=finding]')].map(e => e.dataset.severity)")
    order = {"critical": 0, "warning": 1, "info": 2}
    assert severities == sorted(severities, key=order.get), severities

    # Its subjects open their detail: the filler section, then the mount (the host's list, filtered).
    section = "/api/v1/sections/" + urllib.parse.quote(PREFIX + "filler", safe="")
    click(browser, finding + f' [data-testid="finding-subject"][data-href="{section}"]', "the filler subject")
    wait_for(browser, lambda d: d.execute_script(
        "const p = document.querySelector('[data-testid=detail]'); return !p.hidden && p.dataset.section === arguments[0];",
        PREFIX + "filler"), "the filler's detail")
    click(browser, finding + f' [data-testid="finding-subject"][data-href="/api/v1/mounts/{mount}"]', "the mount subject")
    wait_for(browser, lambda d: d.execute_script(
        "return document.querySelector('[data-testid=scope-host]').getAttribute('aria-pressed') === 'true'"
        " && document.querySelector('[data-testid=filter-mount]').value === arguments[0]", mount),
        "the whole-host list filtered to the full mount")
    wait_for(browser, lambda d: section in [x[0] for x in rows(d)], "the filler in the filtered list")
    filler.unlink()


# ---------------------------------------------------------------------------------------------
# Reclaim and quarantine (only the server's own tmpfs: `mounts` is "host", so nothing else on the
# machine is ever a candidate)

HOLD = r"""
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 4096)
print("ready", flush=True)
sys.stdin.read()
"""


def quarantine_rows(driver):
    return driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=quarantine-table] tr[data-quarantine]')]"
        ".map(r => [r.dataset.quarantine, r.dataset.name]);")


def fill_with(path, byte=b"L"):
    """Writes `byte` into path until the tmpfs is full; returns what the file holds."""
    written = 0
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        while True:
            written += os.write(fd, byte * (64 * 1024))
    except OSError:
        pass
    finally:
        os.close(fd)
    return byte * written


def test_reclaim_shows_a_dry_run_first_then_quarantines_and_the_list_restores_and_purges(
        browser, host_server, small_shm):
    """The leaks fill the tmpfs: shm-full's finding opens the dialog for its mount (nothing else on
    the machine can be a candidate); two orphans are candidates, a mapped object is not."""
    mount = f"{os.major(os.stat(small_shm).st_dev)}:{os.minor(os.stat(small_shm).st_dev)}"
    held = small_shm / (PREFIX + "held")
    held.write_bytes(b"h" * 4096)
    leaks = {PREFIX + "leak-1": b"first leak " * 1000}
    (small_shm / (PREFIX + "leak-1")).write_bytes(leaks[PREFIX + "leak-1"])
    leaks[PREFIX + "leak-2"] = fill_with(small_shm / (PREFIX + "leak-2"))
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(held)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        open_dashboard(browser, host_server)
        wait_for(browser, lambda d: css(d, '[data-testid="quarantine"]') and css(d, '[data-testid="quarantine"]').is_displayed()
                 and not css(d, '[data-testid="reclaim-button"]').get_attribute("disabled"), "the quarantine panel")
        assert quarantine_rows(browser) == []

        shortcut = '[data-testid="finding"][data-id="shm-full"] [data-testid="finding-reclaim"]'
        # The doctor answers from a scan at most a second old; its 10 s run's event refreshes the panel.
        wait_for(browser, lambda d: css(d, shortcut), "shm-full's reclaim button", timeout=HISTORY_WAIT)
        click(browser, shortcut, "the full mount's reclaim button")
        wait_for(browser, lambda d: css(d, 'dialog[open] [data-testid="reclaim-form"]'), "the reclaim dialog")
        assert css(browser, 'dialog [data-testid="field-mounts"]').get_attribute("value") == mount
        fill(browser, "olderThan", "0")
        click(browser, 'dialog [data-testid="dialog-submit"]')
        candidates = '[data-testid="reclaim-candidates"] tr[data-href]'
        shown = wait_for(browser, lambda d: d.execute_script(
            "const rows = [...document.querySelectorAll(arguments[0])];"
            "return rows.length ? rows.map(r => [r.dataset.href, [...r.cells].map(c => c.innerText.trim())]) : null;",
            candidates), "the dry run's candidates")
        by_href = {href: cells for href, cells in shown}
        for name in leaks:
            cells = by_href["/api/v1/sections/" + urllib.parse.quote(name, safe="")]
            # object, kind, mount, bytes, idle, holders, mappers, lock holders, nattch
            assert cells[1] == "shm" and cells[5:] == ["0", "0", "0", "—"], cells
        assert "/api/v1/sections/" + urllib.parse.quote(held.name, safe="") not in by_href, "a held object is no orphan"
        assert "Nothing was changed" in css(browser, '[data-testid="reclaim-summary"]').text
        for name, data in leaks.items():
            assert (small_shm / name).read_bytes() == data, "a dry run changes nothing"
        assert host_server.api("GET", "/api/v1/quarantine")[1]["items"] == []
        form = css(browser, 'dialog [data-testid="reclaim-form"]')
        assert form.get_attribute("data-phase") == "confirm"
        submit = css(browser, 'dialog [data-testid="dialog-submit"]')
        assert "quarantine" in submit.text and submit.text.startswith(f"Reclaim {len(shown)}"), submit.text

        # A setting changed after the dry run needs a new dry run before anything is done.
        fill(browser, "olderThan", "1")
        wait_for(browser, lambda d: css(d, 'dialog [data-testid="reclaim-form"]').get_attribute("data-phase") == "dry",
                 "the dialog to ask for a new dry run")
        fill(browser, "olderThan", "0")
        click(browser, 'dialog [data-testid="dialog-submit"]')
        wait_for(browser, lambda d: css(d, 'dialog [data-testid="reclaim-form"]').get_attribute("data-phase") == "confirm",
                 "the second dry run")
        click(browser, 'dialog [data-testid="dialog-submit"]')
        wait_for(browser, lambda d: css(d, 'dialog [data-testid="reclaim-form"]').get_attribute("data-phase") == "done",
                 "the reclaim")
        assert css(browser, '[data-testid="reclaim-summary"]').text.startswith("Reclaimed ")
        click(browser, 'dialog [data-testid="dialog-submit"]')
        wait_for(browser, lambda d: not css(d, "dialog[open]"), "the dialog to close")
        for name in leaks:
            assert not (small_shm / name).exists(), f"{name} is in quarantine, not under its name"
        assert held.read_bytes() == b"h" * 4096, "the held object is untouched"

        listed = wait_for(browser, lambda d: (r := dict((n, i) for i, n in quarantine_rows(d)))
                          and set(leaks) <= set(r) and r, "the quarantine list")
        first, second = list(leaks)
        click(browser, f'[data-testid="quarantine-table"] tr[data-quarantine="{listed[first]}"] [data-testid="restore-button"]')
        wait_for(browser, lambda d: first not in dict((n, i) for i, n in quarantine_rows(d)), "the restored row to go")
        assert (small_shm / first).read_bytes() == leaks[first], "restored byte for byte"

        free = os.statvfs(small_shm).f_bavail
        click(browser, f'[data-testid="quarantine-table"] tr[data-quarantine="{listed[second]}"] [data-testid="purge-button"]')
        wait_for(browser, lambda d: css(d, 'dialog[open] [data-testid="purge-form"]'), "the purge confirmation")
        click(browser, 'dialog [data-testid="dialog-submit"]')
        wait_for(browser, lambda d: not css(d, "dialog[open]"), "the purge dialog to close")
        wait_for(browser, lambda d: second not in dict((n, i) for i, n in quarantine_rows(d)), "the purged row to go")
        items = host_server.api("GET", "/api/v1/quarantine")[1]["items"]
        assert all(i["id"] not in (listed[first], listed[second]) for i in items), items
        assert not (small_shm / second).exists()
        freed = (os.statvfs(small_shm).f_bavail - free) * os.statvfs(small_shm).f_frsize
        assert freed >= len(leaks[second]) - 64 * 1024, f"the purge freed {freed} bytes of {len(leaks[second])}"
    finally:
        holder.kill()
        holder.wait(timeout=10)
        for name in [*leaks, held.name]:
            (small_shm / name).unlink(missing_ok=True)
        status, body = host_server.api("GET", "/api/v1/quarantine")
        for item in (body or {}).get("items", []) if status == 200 else []:
            host_server.api("DELETE", f"/api/v1/quarantine/{item['id']}")


def test_no_script_errors(browser):
    dash.test_no_script_errors(browser)
