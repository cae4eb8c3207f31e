"""The driver: checks the tools, builds the C peers, starts shm-admin, runs the comparisons in
order (each on its own: a failure ends that comparison only) and writes RESULTS.md. Whatever
happens (failure, Ctrl-C, TERM), every process it started is stopped and every /dev/shm object
it made (named bench-<pid>-…) is removed."""

from __future__ import annotations

import argparse
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from . import c1_listing, c2_raw, c3_hexdump, c4_list, c5_pagemap, c6_grow, c7_cycle, c8_rss, c9_host, callgrind
from .context import FULL, SHM, SMOKE, Bench, rss_kib
from .errors import BenchError
from .peers import build_c_peers, nginx_version
from .procs import Processes
from .report import Header, Report, open_log, say, write_results

BENCH_DIR = Path(__file__).resolve().parents[1]
ROOT = BENCH_DIR.parent
COMPARISONS = {1: c1_listing, 2: c2_raw, 3: c3_hexdump, 4: c4_list, 5: c5_pagemap, 6: c6_grow, 7: c7_cycle, 8: c8_rss,
               9: c9_host}
ORDER = [1, 2, 3, 5, 6, 7, 4]  # then 8 on a fresh server: 4 leaves the 10,000 objects 8 reuses
TOOLS = ["gcc", "pkg-config", "curl", "wrk", "nginx", "lsof", "hexdump", "taskset", "cmp", "lsfd", "ipcs"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    env = os.environ
    p = argparse.ArgumentParser(prog="bench/shmbench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", default=env.get("BENCH_SMOKE") == "1",
                   help="one round of tiny sizes in seconds -> bench/out/RESULTS.md; non-zero exit on any error (BENCH_SMOKE=1)")
    p.add_argument("--only", type=int, nargs="+", choices=range(1, 10), metavar="N",
                   default=[int(x) for x in env.get("BENCH_ONLY", "").split()] or None,
                   help="run only these comparisons; results then go to bench/out/ (BENCH_ONLY=\"1 3\")")
    p.add_argument("--rounds", type=int, default=int(env["BENCH_ROUNDS"]) if env.get("BENCH_ROUNDS") else None,
                   help="rounds per comparison (default 5 full, 1 smoke; BENCH_ROUNDS)")
    p.add_argument("--no-pin", action="store_true", default=env.get("BENCH_PIN") == "0",
                   help="skip the variants with the client pinned to its own CPU (BENCH_PIN=0)")
    p.add_argument("--no-callgrind", action="store_true", default=env.get("BENCH_CALLGRIND") == "0",
                   help="skip the callgrind instruction count of comparison 1 (BENCH_CALLGRIND=0)")
    p.add_argument("--out", type=Path, default=Path(env.get("BENCH_OUT", BENCH_DIR / "out")),
                   help="logs, wrk outputs and partial results (default bench/out; BENCH_OUT)")
    p.add_argument("--results", type=Path, default=Path(env.get("BENCH_RESULTS", BENCH_DIR / "RESULTS.md")),
                   help="where a full run writes its results (default bench/RESULTS.md; BENCH_RESULTS)")
    p.add_argument("--server", default=env.get("SHM_ADMIN_BIN"),
                   help="the server binary (default the release build; SHM_ADMIN_BIN)")
    p.add_argument("--server-commit", default=env.get("BENCH_SERVER_COMMIT"),
                   help="the commit the server was built from, for the results (default this checkout's HEAD)")
    return p.parse_args(argv)


def find_server_binary(given: str | None) -> str:
    if given:
        return given
    d = ""
    if shutil.which("swift"):
        r = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, capture_output=True, text=True)
        d = r.stdout.strip() if r.returncode == 0 else ""
    return f"{d or ROOT / '.build' / 'release'}/shm-admin"


def _first_line(argv: list[str]) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (r.stdout + r.stderr).strip().splitlines()[0] if (r.stdout + r.stderr).strip() else ""


def machine_line() -> str:
    cpu = next((l.split(": ", 1)[1] for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "unknown CPU")
    mem = next(int(l.split()[1]) for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal:"))
    st = os.statvfs(SHM)
    shm = st.f_blocks * st.f_frsize
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    # Every listing scans the directory: what others keep in it shows in the figures.
    entries = len(os.listdir(SHM))
    return (f"{os.cpu_count()} CPUs, {cpu}, kernel {platform.release()}, {mem / 1048576:.1f} GiB RAM, "
            f"{shm / 2**30:.0f}G {SHM} holding {entries} entries, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"load average {load} at the start")


def peers_line(with_valgrind: bool) -> str:
    wrk = _first_line(["wrk", "-v"]).split()
    mhd = _first_line(["pkg-config", "--modversion", "libmicrohttpd"])
    curl = " ".join(_first_line(["curl", "--version"]).split()[:2])
    hd = _first_line(["hexdump", "--version"]).split()
    lsof = re.search(r"revision:\s*(\S+)", subprocess.run(["lsof", "-v"], capture_output=True, text=True).stderr or "")
    parts = [nginx_version(), f"wrk {wrk[1] if len(wrk) > 1 else '?'}", f"libmicrohttpd {mhd}", curl,
             f"hexdump ({' '.join(hd[2:4])})" if len(hd) >= 4 else "hexdump", f"lsof {lsof.group(1) if lsof else '?'}",
             _first_line(["ls", "--version"]), f"gcc {_first_line(['gcc', '-dumpfullversion'])}"]
    if with_valgrind:
        parts.append(_first_line(["valgrind", "--version"]))
    return ", ".join(parts)


def git_rev(given: str | None) -> str:
    if given:
        return given
    r = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=7", "HEAD"], capture_output=True, text=True)
    rev = r.stdout.strip()
    if rev:
        # "-dirty" when anything but the bench's own output differs from the commit.
        st = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", ".", ":!bench/RESULTS.md", ":!bench/out"],
                            capture_output=True, text=True).stdout
        if st.strip():
            rev += "-dirty"
    return rev


class Terminated(BaseException):
    pass


def _on_term(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    sizes = SMOKE if args.smoke else FULL
    rounds = args.rounds or sizes.rounds
    only = sorted(set(args.only)) if args.only else list(range(1, 10))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("parts", "data", "targets.tsv", "errors.txt", "c3-diff.txt"):
        p = out / stale
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    (out / "data").mkdir()
    open_log(out / "run.log")
    t_start = time.monotonic()
    report = Report(errors_file=out / "errors.txt")
    tmp = Path(tempfile.mkdtemp(prefix="shm-admin-bench."))
    procs = Processes(say)
    bench: Bench | None = None
    try:
        for tool in TOOLS:
            if shutil.which(tool) is None:
                raise BenchError(f"{tool} is missing: run `scripts/setup bench` (or `make setup-bench`)")
        bin_dir = BENCH_DIR / "bin"
        say(f"building the C peers into {bin_dir}")
        build_c_peers(BENCH_DIR, bin_dir)
        server_bin = find_server_binary(args.server)
        if not os.access(server_bin, os.X_OK):
            raise BenchError(f"no server binary at {server_bin}: build it with `make release` (or set SHM_ADMIN_BIN)")
        dest = args.results
        mode_text = f"full, {rounds} rounds"
        if args.smoke:
            mode_text, dest = f"smoke, {rounds} round{'s' if rounds > 1 else ''}", out / "RESULTS.md"
        if "/release/" not in server_bin:
            say(f"{server_bin} is not a release build: results go to {out / 'RESULTS.md'}, not bench/RESULTS.md")
            mode_text += ", NOT a release build"
            dest = out / "RESULTS.md"
        if only != list(range(1, 10)) or args.rounds:
            mode_text += f", comparisons {' '.join(map(str, only))}"
            dest = out / "RESULTS.md"
        pinning = not args.no_pin and (os.cpu_count() or 1) > 1
        use_callgrind = not args.no_callgrind and 1 in only and callgrind.available() is None
        if not pinning:
            mode_text += ", client not pinned"
        token_file = tmp / "admin-token"
        token_file.write_text(secrets.token_hex(32))
        token_file.chmod(0o600)
        bench = Bench(sizes=sizes, rounds=rounds, smoke=args.smoke, pinning=pinning, callgrind=not args.no_callgrind,
                      bench_dir=BENCH_DIR, bin_dir=bin_dir, out=out, tmp=tmp, server_bin=server_bin,
                      token_file=token_file, report=report, procs=procs)
        machine = machine_line()
        rev = git_rev(args.server_commit)
        peers = peers_line(use_callgrind)
        say(f"machine: {machine}")
        say(f"mode: {mode_text}; objects under {SHM}/{bench.prefix}*")

        bench.server = bench.start_server("main")
        try:
            version = bench.api.get("/api/v1/system").json.get("version", "?")
        except BenchError:
            version = "?"
        time.sleep(1)
        idle = rss_kib(bench.server.pid)
        say(f"8: idle RSS {idle} KiB")
        for n in ORDER:
            if n in only:
                run_comparison(bench, n)
        bench.stop_server(bench.server)
        if 8 in only:
            run_comparison(bench, 8, idle)
        if 9 in only:
            # Last: its 2,000 processes and own server would disturb the others. The host it describes
            # has no other objects: comparisons 4 and 8's 10,000 sections are removed first.
            bench.remove_objects()
            bench.many_made = False
            run_comparison(bench, 9)
        bench.remove_objects()

        took = time.monotonic() - t_start
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        mode_text += f", {took:.0f}s in all, load average {load} at the end"
        header = Header(mode_text=mode_text, machine=machine, peers=peers, smoke=args.smoke,
                        server=f"`{server_bin}`, version {version}" + (f", commit {rev}" if rev else ""),
                        titles={n: COMPARISONS[n].title(bench) for n in COMPARISONS})
        write_results(dest, report, header, BENCH_DIR / "ANALYSIS.md" if not args.smoke else None)
        say(f"results: {dest} ({took:.0f}s)")
        if report.errors:
            say(f"{len(report.errors)} error(s):")
            for e in report.errors:
                say(f"  - {e}")
            if args.smoke:
                return 1
        return 0
    except BenchError as e:
        say(f"error: {e}")
        return 1
    except KeyboardInterrupt:
        say("interrupted: cleaning up")
        return 130
    except Terminated:
        say("terminated: cleaning up")
        return 143
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the cleanup itself is not interrupted
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if bench is not None:
            for s in reversed(list(bench.servers)):
                try:
                    bench.stop_server(s)
                except Exception as e:
                    say(f"stopping shm-admin ({s.label}): {e}")
            bench.remove_objects()
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def run_comparison(b: Bench, n: int, *extra) -> None:
    """Runs comparison n; a failure ends that comparison only and is listed under Errors."""
    if n < 8 and not b.server.alive():
        b.report.error(f"the server (pid {b.server.pid}) is gone before comparison {n}; restarting it")
        b.server = b.start_server(f"before-c{n}")
    say(f"== comparison {n}")
    try:
        COMPARISONS[n].run(b, *extra)
    except Exception as e:  # BenchError, or a bug: either way the others still run
        detail = str(e) if isinstance(e, BenchError) else "".join(traceback.format_exception(e)).strip()
        b.report.error(f"comparison {n} failed: {detail.splitlines()[-1] if detail else type(e).__name__}")
        if not isinstance(e, BenchError):
            say(detail)
        b.report.part(n, "**Failed**: see `run.log`.")
