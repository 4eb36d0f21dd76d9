"""One glossary entry, and what several pages' entries share (core.content.glossary_entries)."""
import re
from dataclasses import dataclass

_ARXIV = re.compile(r"\(arXiv (\d{4}\.\d{4,5})\)")
MATH = "The math"
VASWANI = "Vaswani et al. 2017 (arXiv 1706.03762)"


@dataclass(frozen=True)
class Entry:
    term: str
    definition: str  # one line, in LLM Lab's own words
    page: str  # a page title, a key of core.content.home.PAGE_URLS
    section: str = ""  # Inference: a value of its `section` Param; other pages: a header's text; "" = the page's top
    paper: str = ""  # "Hu et al. 2021 (arXiv 2106.09685)", or "" when the idea has no single source
    aliases: tuple[str, ...] = ()  # other names search should treat as the term

    @property
    def paper_url(self) -> str:
        """The arXiv page of the paper, or "" when it is not on arXiv."""
        match = _ARXIV.search(self.paper)
        return f"https://arxiv.org/abs/{match.group(1)}" if match else ""
