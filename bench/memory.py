"""`python -m bench.memory [--reruns 20] [--reload] [--url-pid URL PID]`: does the server's memory settle?

Starts the real server (`streamlit run Home.py`), visits every page (and every section of a page that draws one
section at a time) once in a headless Chromium (which loads every model the pages use), and reads the server's resident memory; then reruns
each page `--reruns` times (Streamlit's own "r" shortcut: same session, same settings, so every result is
a cache hit) and reads it again. Prints RSS after the first visits, after the reruns, the growth in percent,
and the peak (VmRSS and VmHWM from /proc/<pid>/status). With `--reload` each rerun is a full page reload
instead: a new Streamlit session every time, which is how a classroom opens links.

A growth of a few percent is the allocator settling; a growth that keeps climbing with --reruns is a leak
(something cached per session or per run that is never dropped). Measure on a quiet machine.
"""
import argparse
import asyncio
import sys
import time
from urllib.parse import urlencode

from bench.load import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DONE_JS,
    home_page_files,
    memory_kb,
    page_sections,
    serve,
    wait_rerun,
)


def urls() -> list[str]:
    """Every page's path, one per section for a page that draws one section at a time (each section loads its
    own models): ['', 'transformer?t_section=Tokens%20and%20attention', ...]."""
    out = []
    for page in home_page_files():
        sections = page_sections(page.file)
        if sections is None:
            out.append(page.path)
        else:
            key, names = sections
            out += [f"{page.path}?{urlencode({key: name})}" for name in names]
    return out


async def _rerun(page, reload: bool, timeout_ms: float) -> None:
    if reload:
        await page.reload(timeout=timeout_ms)
        await page.wait_for_function(DONE_JS, arg="", polling=100, timeout=timeout_ms)
        return
    await page.locator("body").press("r")  # Streamlit's keyboard shortcut: rerun the script
    await wait_rerun(page, timeout_ms)


async def measure(base: str, pid: int, reruns: int = 20, reload: bool = False, timeout_s: float = 600,
                  log=print) -> dict:
    """Visit every URL, read RSS; rerun each `reruns` times, read RSS again. Returns the figures in MB."""
    from playwright.async_api import async_playwright

    if CHROMIUM is None:
        raise RuntimeError("Chromium not installed (apt-get install chromium)")
    timeout_ms = timeout_s * 1000
    exceptions = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1400, "height": 1000})
            page = await context.new_page()
            for path in urls():
                start = time.monotonic()
                await page.goto(f"{base}/{path}", timeout=timeout_ms)
                await page.wait_for_function(DONE_JS, arg="", polling=100, timeout=timeout_ms)
                exceptions += [(path, e) for e in await page.locator('[data-testid="stException"]').all_inner_texts()]
                log(f"  first visit /{path}: {time.monotonic() - start:.1f} s, "
                    f"RSS {memory_kb(pid).get('VmRSS', 0) / 1024:.0f} MB")
            first = memory_kb(pid)
            for path in urls():
                await page.goto(f"{base}/{path}", timeout=timeout_ms)
                await page.wait_for_function(DONE_JS, arg="", polling=100, timeout=timeout_ms)
                for _ in range(reruns):
                    await _rerun(page, reload, timeout_ms)
                exceptions += [(path, e) for e in await page.locator('[data-testid="stException"]').all_inner_texts()]
                log(f"  {reruns} {'reloads' if reload else 'reruns'} of /{path}: "
                    f"RSS {memory_kb(pid).get('VmRSS', 0) / 1024:.0f} MB")
            after = memory_kb(pid)
        finally:
            await browser.close()
    mb = lambda kb: kb / 1024
    return {"first_mb": mb(first["VmRSS"]), "after_mb": mb(after["VmRSS"]),
            "growth_pct": 100 * (after["VmRSS"] - first["VmRSS"]) / first["VmRSS"], "peak_mb": mb(after["VmHWM"]),
            "pages": len(urls()), "reruns": reruns, "reload": reload, "exceptions": exceptions}


def report(figures: dict) -> str:
    kind = "reloads (new sessions)" if figures["reload"] else "reruns"
    lines = [f"server RSS after the first visit of {figures['pages']} pages: {figures['first_mb']:.0f} MB",
             f"after {figures['reruns']} {kind} of each:                 {figures['after_mb']:.0f} MB",
             f"growth:                                      {figures['growth_pct']:+.1f} %",
             f"peak (VmHWM):                                {figures['peak_mb']:.0f} MB"]
    lines += [f"exception on /{path}: {text[:200]}" for path, text in figures["exceptions"][:10]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n\n")[1])
    parser.add_argument("--reruns", type=int, default=20)
    parser.add_argument("--reload", action="store_true", help="full reloads (new sessions) instead of reruns")
    parser.add_argument("--url-pid", nargs=2, metavar=("URL", "PID"), help="measure a running server instead")
    args = parser.parse_args(argv)
    if args.url_pid:
        figures = asyncio.run(measure(args.url_pid[0].rstrip("/"), int(args.url_pid[1]), args.reruns, args.reload))
    else:
        with serve() as server:
            print(f"server {server.url} (pid {server.pid}), log {server.log}", flush=True)
            figures = asyncio.run(measure(server.url, server.pid, args.reruns, args.reload))
    print(report(figures))
    return 1 if figures["exceptions"] else 0


if __name__ == "__main__":
    sys.exit(main())
