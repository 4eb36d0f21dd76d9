"""`python -m bench.load [--sessions 10] [--rounds 2] [--heavy fine_tuning|quantization|none] [--url URL]`

A classroom in one process: N concurrent browser sessions (one headless Chromium, one context each) walk
through every page of the real server (`streamlit run Home.py`) while one more session keeps the heaviest
action running (Fine-tuning's "Train both", or Quantization's "Measure"), over and over, until they are done.
Prints the sessions, p50/p95 page times (first visits, later visits, later visits while the heavy action
ran), the server's own time for each script run, and its peak resident memory (VmHWM from /proc/<pid>/status).

A page time runs from the click on the sidebar link (or `goto` for the first page) until the new page's
title is drawn and Streamlit's own run-state flag says the script has finished
(`[data-testid=stApp][data-test-script-state=notRunning]`, what Streamlit's e2e tests wait for). Later
visits hit the process-wide caches, so they measure what the compute lock promises: a cache hit never waits
behind someone else's long job. With `--warm`, one session first walks every page alone, so every visit of the
classroom is a cache hit.

Here the browsers run on the server's own cores, which a classroom's do not (each student's browser draws on
the student's machine): drawing a cached page costs its browser about 1 s of CPU here, so ten browsers on two
cores measure mostly each other. They run at the lowest CPU priority (`nice 19`, `--browser-nice`), so the
server is served first, and the server logs its own time for every script run (ui.chrome.run_log:
LLM_LAB_RUN_LOG), with how long the run waited for the compute lock: that is the server's share of a page
time, which the p95 bound is about. Measure on a quiet machine.

tests/test_load.py runs the same driver and checks it; tests/test_replicas.py reuses `serve` and the driver.
"""
import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 # every context is a page in the foreground, as in a classroom: no timer throttling
                 "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows"]
# The heavy action: where it lives (a URL template, {i} makes each run's settings new, so it is never a
# cache hit) and the key of its button.
HEAVY = {
    "fine_tuning": ("fine_tuning?ft_seed={i}&ft_steps=9999", "ft_train"),  # steps clamped to the page's cap
    "quantization": ("inference?section=Quantization&q_tokens={tokens}", "q_measure"),
}
DONE_JS = """prev => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.dataset.testConnectionState !== 'CONNECTED' || app.dataset.testScriptState !== 'notRunning') return false;
  const h1 = document.querySelector('h1');
  return !!h1 && h1.innerText.trim() !== '' && h1.innerText.trim() !== prev;
}"""
STARTED_JS = "() => document.querySelector('[data-testid=stApp]').dataset.testScriptState !== 'notRunning'"
IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.dataset.testConnectionState === 'CONNECTED' && app.dataset.testScriptState === 'notRunning';
}"""


@dataclass(frozen=True)
class PageFile:
    file: str  # 'app_pages/rag.py'
    path: str  # its URL path: 'rag' ('' for the default page)
    title: str  # its title in the navigation: 'RAG & long context'


def home_page_files() -> list[PageFile]:
    """Every st.Page of Home.py's st.navigation, the default page first."""
    text = (ROOT / "Home.py").read_text()
    pages = []
    for call in re.findall(r"st\.Page\((.*?)\)", text, re.DOTALL):
        file = re.match(r"""\s*["']([^"']+)""", call).group(1)
        title = re.search(r"""title\s*=\s*["']([^"']+)""", call)
        path = re.search(r"""url_path\s*=\s*["']([^"']*)""", call)
        default = re.search(r"default\s*=\s*True", call)
        pages.append(PageFile(file, "" if default else path.group(1) if path else Path(file).stem,
                              title.group(1) if title else ""))
    return sorted(pages, key=lambda p: p.path != "")


def home_pages() -> list[tuple[str, str]]:
    """(url path, title) of every page in Home.py's st.navigation, the default page first: [('', 'Home'), ...]."""
    return [(p.path, p.title) for p in home_page_files()]


def page_sections(file: str) -> tuple[str, list[str]] | None:
    """(URL key, section names) of a page that draws one section at a time, chosen from its SECTIONS table by a
    Param: page_sections('app_pages/inference.py') -> ('section', ['Decoding', 'KV cache', ...]); None otherwise."""
    text = (ROOT / file).read_text()
    key = re.search(r"""Param\(\s*["'](\w+)["'][^)]*choices\s*=\s*tuple\(SECTIONS\)""", text)
    table = re.search(r"^SECTIONS\s*=\s*\{(.*?)^\}", text, re.DOTALL | re.MULTILINE)
    if not key or not table:
        return None
    return key.group(1), re.findall(r"""^\s*["']([^"']+)["']\s*:""", table.group(1), re.MULTILINE)


# ---- the server -------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, timeout_s: float = 180, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server at {url} exited with {proc.returncode}")
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} was not healthy after {timeout_s:.0f} s")


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path
    runs: Path  # one JSON line per script run (ui.chrome.run_log)

    @property
    def pid(self) -> int:
        return self.proc.pid


@contextmanager
def serve(port: int | None = None, log_dir: Path | None = None, env: dict | None = None):
    """Start `streamlit run Home.py` on 127.0.0.1:port (a free one by default); yield a Server; stop it."""
    import tempfile

    port = port or free_port()
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="llm-lab-serve-"))
    log = log_dir / f"streamlit-{port}.log"
    runs = log_dir / f"runs-{port}.jsonl"
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "LLM_LAB_RUN_LOG": str(runs),
                **(env or {})}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "Home.py", "--server.port", str(port),
                                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                                cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", proc, log, runs)
    try:
        wait_healthy(server.url, proc=proc)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def memory_kb(pid: int) -> dict[str, int]:
    """{'VmRSS': kB now, 'VmHWM': peak kB} of a process, from /proc/<pid>/status (Linux)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


@dataclass(frozen=True)
class Run:
    """One script run as the server logged it (ui.chrome.run_log)."""
    start: float  # time.time()
    seconds: float
    cpu_s: float  # CPU time of the run's own thread (the rest of `seconds`: waiting for the CPU, the GIL, locks)
    page: str
    session: str
    lock_wait_s: float
    lock_holds: int  # 0: the run only read caches
    ended: str


def read_runs(path: Path) -> list[Run]:
    """The server's run log; [] when there is none."""
    import json

    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [Run(**json.loads(line)) for line in lines if line.strip()]


# ---- the browser side -------------------------------------------------------------------------------------
@dataclass
class Visit:
    session: int
    round: int  # 0: the session's first visit of this page; 1, 2, ...: later visits
    path: str
    cached: bool  # someone had opened this page before (a later round, or after --warm)
    start: float  # time.monotonic()
    seconds: float
    exceptions: list  # inner texts of stException elements on the page


@dataclass
class HeavyRun:
    path: str
    start: float
    seconds: float
    exceptions: list


@dataclass
class LoadResult:
    sessions: int
    visits: list = field(default_factory=list)
    heavy: list = field(default_factory=list)
    console_errors: list = field(default_factory=list)
    failures: list = field(default_factory=list)  # sessions that did not finish: (session, error)
    replicas: dict = field(default_factory=dict)  # session -> values of the proxy's replica header it saw
    warm: list = field(default_factory=list)  # the warm-up walk's visits (--warm), not counted in `visits`
    probe: list = field(default_factory=list)  # the probe student's visits (its browser not niced), apart
    started: float = 0.0  # time.time() and time.monotonic() when the classroom (after any warm-up) started
    started_monotonic: float = 0.0
    runs: list = field(default_factory=list)  # the server's runs during the classroom (read_runs), if logged

    def times(self, later: bool | None = None, during_heavy: bool = False) -> list[float]:
        """Browser-side page times: all, cache hits (later=True) or first computations (False)."""
        chosen = [v for v in self.visits if later is None or v.cached == later]
        if during_heavy:
            chosen = [v for v in chosen if self._during_heavy(v.start)]
        return [v.seconds for v in chosen]

    def _during_heavy(self, monotonic: float) -> bool:
        return any(h.start <= monotonic <= h.start + h.seconds for h in self.heavy)

    def server_times(self, during_heavy: bool = False) -> list[float]:
        """Server-side times of the classroom's script runs that only read caches (took the compute lock 0 times)."""
        chosen = [r for r in self.runs if r.lock_holds == 0]
        if during_heavy:  # the run log's wall clock, mapped onto the driver's monotonic clock
            chosen = [r for r in chosen if self._during_heavy(r.start - self.started + self.started_monotonic)]
        return [r.seconds for r in chosen]

    @property
    def lock_waits(self) -> list[float]:
        """Seconds each run that waited for the compute lock waited."""
        return [r.lock_wait_s for r in self.runs if r.lock_wait_s > 0.001]

    @property
    def exceptions(self) -> list:
        return [(v.session, v.path, e) for v in self.visits + self.warm + self.probe for e in v.exceptions] + \
               [("heavy", h.path, e) for h in self.heavy for e in h.exceptions]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated between closest ranks: percentile([1, 2, 3, 4], 50) -> 2.5."""
    if not values:
        return float("nan")
    ranked = sorted(values)
    k = (len(ranked) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ranked) - 1)
    return ranked[lo] + (ranked[hi] - ranked[lo]) * (k - lo)


async def wait_rerun(page, timeout_ms: float) -> None:
    """After a click or a key that reruns the script: wait for the run to start (a run shorter than the
    polling interval may be missed, harmlessly), then for it to end."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    with suppress(PlaywrightTimeout):
        await page.wait_for_function(STARTED_JS, polling=20, timeout=3000)
    await page.wait_for_function(IDLE_JS, polling=100, timeout=timeout_ms)


async def _exceptions(page) -> list:
    return await page.locator('[data-testid="stException"]').all_inner_texts()


async def _h1(page) -> str:
    texts = await page.locator("h1").all_inner_texts()
    return texts[0].strip() if texts else ""


async def _open(page, base: str, path: str, prev: str, timeout_ms: float, first: bool) -> None:
    """Go to a page: a sidebar click inside the session (like a student), a full load for the first one."""
    if first:
        await page.goto(f"{base}/{path}", timeout=timeout_ms)
    else:
        await page.locator(f'[data-testid="stSidebarNav"] a[href="{base}/{path}"]').first.click(timeout=timeout_ms)
    await page.wait_for_function(DONE_JS, arg=prev, polling=50, timeout=timeout_ms)


PROBE_READ_S = 3.0  # the probe student reads each page this long before the next click


async def _walk(browser, n: int, base: str, pages: list, rounds: int, result: LoadResult, timeout_ms: float,
                replica_header: str | None = None, warmed: bool = False, stop: asyncio.Event | None = None,
                read_s: float = 0.0, visits: list | None = None) -> None:
    """One student: every page in a rotated order, `rounds` times, within one Streamlit session. With `stop`,
    round after round until it is set instead, reading each page for `read_s` (the probe: n = -1, its visits in
    `visits`)."""
    who = n if n >= 0 else "probe"
    visits = result.visits if visits is None else visits
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = await context.new_page()
        page.on("pageerror", lambda err: result.console_errors.append((who, str(err)[:300])))
        if replica_header:  # which server answered each of this session's requests (set by a proxy)
            seen = result.replicas.setdefault(n, set())
            page.on("response", lambda r: seen.add(r.headers.get(replica_header)))
        shift = max(n, 0) % len(pages)
        order = pages[shift:] + pages[:shift]
        prev, where, rnd = "", "", 0
        while rnd < rounds if stop is None else not stop.is_set():
            for i, (path, _title) in enumerate(order):
                where = f"/{path} (round {rnd})"
                start = time.monotonic()
                await _open(page, base, path, prev, timeout_ms, first=rnd == 0 and i == 0)
                seconds = time.monotonic() - start
                visits.append(Visit(n, rnd, path, rnd > 0 or warmed, start, seconds, await _exceptions(page)))
                prev = await _h1(page)
                if stop is not None and stop.is_set():
                    break
                await asyncio.sleep(read_s)
            rnd += 1
    except Exception as err:  # noqa: BLE001 - a failed session is reported, the others go on
        result.failures.append((who, f"{where}: {type(err).__name__}: {str(err)[:300]}"))
    finally:
        await context.close()


async def _heavy(browser, base: str, action: str, result: LoadResult, stop: asyncio.Event, timeout_ms: float) -> None:
    """One more student clicks the heaviest button, with new settings each time, until the others are done."""
    template, key = HEAVY[action]
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = await context.new_page()
        i = 0
        while not stop.is_set():
            i += 1
            url = f"{base}/" + template.format(i=1000 + i, tokens=4 + 4 * (i % 12))
            await page.goto(url, timeout=timeout_ms)
            await page.wait_for_function(DONE_JS, arg="", polling=100, timeout=timeout_ms)
            start = time.monotonic()
            await page.locator(f".st-key-{key} button").first.click(timeout=timeout_ms)
            await wait_rerun(page, timeout_ms)
            result.heavy.append(HeavyRun(url.removeprefix(base), start, time.monotonic() - start, await _exceptions(page)))
    except Exception as err:  # noqa: BLE001
        result.failures.append(("heavy", f"{type(err).__name__}: {str(err)[:300]}"))
    finally:
        await context.close()


def _niced_chromium(nice: int) -> str:
    """A launcher that starts Chromium at CPU priority `nice` (its renderers inherit it); Chromium itself if 0."""
    import stat
    import tempfile

    if not nice:
        return CHROMIUM
    path = Path(tempfile.mkdtemp(prefix="llm-lab-chromium-")) / "chromium"
    # Playwright starts the browser in a session of its own, and Linux schedules sessions as groups
    # (autogroup): between groups only the group's nice counts, so set it as well as the process's.
    path.write_text(f'#!/bin/sh\necho {int(nice)} > /proc/self/autogroup 2>/dev/null\n'
                    f'exec nice -n {int(nice)} "{CHROMIUM}" "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


async def drive(base: str, sessions: int = 10, rounds: int = 2, heavy: str | None = "fine_tuning",
                timeout_s: float = 300, replica_header: str | None = None, warm: bool = False,
                browser_nice: int = 19, runs_log: Path | None = None, probe: bool = False) -> LoadResult:
    """Run the classroom against `base` (http://host:port) and return every measured visit.

    With `warm`, one session first walks every page alone (result.warm), so the classroom's visits are all cache
    hits. Then all sessions start together; the heavy session clicks its button again and again until the
    walkers are done, so their later rounds (cache hits) run while it works. `runs_log` is the server's run log
    (Server.runs): the runs logged while the classroom ran are read into result.runs. With `probe`, one more
    student walks the same pages in a browser of its own that is not niced (result.probe): the page times of a
    student whose browser has a fair share of the CPU, as on the student's own machine."""
    from playwright.async_api import async_playwright

    if CHROMIUM is None:
        raise RuntimeError("Chromium not installed (apt-get install chromium)")
    pages = home_pages()
    result = LoadResult(sessions)
    timeout_ms = timeout_s * 1000
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=_niced_chromium(browser_nice), args=CHROMIUM_ARGS)
        try:
            if warm:
                alone = LoadResult(1)
                await _walk(browser, 0, base, pages, 1, alone, timeout_ms, None)
                result.warm, result.failures = alone.visits, [("warm-up", f) for _, f in alone.failures]
                result.console_errors += alone.console_errors
            result.started, result.started_monotonic = time.time(), time.monotonic()
            stop = asyncio.Event()
            heavy_task = asyncio.create_task(_heavy(browser, base, heavy, result, stop, timeout_ms)) if heavy else None
            own = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS) if probe else None
            probe_task = asyncio.create_task(_walk(own, -1, base, pages, 0, result, timeout_ms, None, warm, stop,
                                                   PROBE_READ_S, result.probe)) if own else None
            try:
                await asyncio.gather(*(_walk(browser, n, base, pages, rounds, result, timeout_ms, replica_header, warm)
                                       for n in range(sessions)))
            finally:
                stop.set()
                if probe_task:
                    await probe_task
                    await own.close()
            if heavy_task:
                await heavy_task
        finally:
            await browser.close()
    if runs_log is not None:
        result.runs = [r for r in read_runs(runs_log) if r.start >= result.started]
    return result


def summary(result: LoadResult, pid: int | None = None, heavy: str | None = None) -> str:
    def line(name: str, values: list[float]) -> str:
        if not values:
            return f"  {name:<34} (none)"
        return (f"  {name:<34} n={len(values):<4} p50 {percentile(values, 50):6.2f} s   p95 {percentile(values, 95):6.2f} s"
                f"   max {max(values):6.2f} s")

    lines = [f"sessions: {result.sessions} walking every page"
             + (f" + 1 running the heavy action ({heavy})" if heavy else "")
             + (f", after one session walked every page alone ({sum(v.seconds for v in result.warm):.0f} s)"
                if result.warm else ""),
             (f"visits: {len(result.visits)}, exceptions: {len(result.exceptions)}, console errors: "
              f"{len(result.console_errors)}, failed sessions: {len(result.failures)}"),
             "browser side (click to page drawn; the browsers share the server's cores at nice 19):",
             line("first visits", result.times(later=False)),
             line("later visits (cached)", result.times(later=True)),
             line("later visits during the heavy action", result.times(later=True, during_heavy=True)),
             line("heavy action runs", [h.seconds for h in result.heavy])]
    if result.probe:
        lines += ["one more student whose browser is not niced (a fair share of the CPU, as on its own machine):",
                  line("its cached visits", [v.seconds for v in result.probe if v.cached]),
                  line("  of them during the heavy action",
                       [v.seconds for v in result.probe if v.cached and result._during_heavy(v.start)])]
    if result.runs:
        waits = result.lock_waits
        lines += ["server side (one script run, ui.chrome.run_log):",
                  line("runs that only read caches", result.server_times()),
                  line("  of them during the heavy action", result.server_times(during_heavy=True)),
                  line("runs that computed (took the lock)", [r.seconds for r in result.runs if r.lock_holds]),
                  f"  runs that waited for the compute lock: {len(waits)} of {len(result.runs)}"
                  + (f", longest wait {max(waits):.1f} s" if waits else "")]
    if pid is not None:
        mem = memory_kb(pid)
        if mem:
            lines.append(f"server RSS now {mem.get('VmRSS', 0) / 1024:.0f} MB, peak (VmHWM) {mem.get('VmHWM', 0) / 1024:.0f} MB")
    for who, err in result.failures:
        lines.append(f"  FAILED session {who}: {err}")
    for who, path, text in result.exceptions[:10]:
        lines.append(f"  exception in session {who} on {path if path.startswith('/') else '/' + path}: {text[:200]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[1])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2,
                        help="walks through every page per session (>= 2 without --warm, for cache hits)")
    parser.add_argument("--heavy", choices=[*HEAVY, "none"], default="fine_tuning")
    parser.add_argument("--warm", action="store_true", help="one session walks every page alone first")
    parser.add_argument("--browser-nice", type=int, default=19,
                        help="CPU priority of the browsers (0: the same as the server's)")
    parser.add_argument("--probe", action="store_true",
                        help="one more student in a browser that is not niced: page times with a fair CPU share")
    parser.add_argument("--url", help="drive a running server instead of starting one (no memory or server times)")
    args = parser.parse_args(argv)
    heavy = None if args.heavy == "none" else args.heavy
    options = {"sessions": args.sessions, "rounds": args.rounds, "heavy": heavy, "warm": args.warm,
               "browser_nice": args.browser_nice, "probe": args.probe}
    if args.url:
        result = asyncio.run(drive(args.url.rstrip("/"), **options))
        print(summary(result, heavy=heavy))
    else:
        with serve() as server:
            print(f"server {server.url} (pid {server.pid}), log {server.log}", flush=True)
            result = asyncio.run(drive(server.url, runs_log=server.runs, **options))
            print(summary(result, server.pid, heavy))
    return 1 if result.exceptions or result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
