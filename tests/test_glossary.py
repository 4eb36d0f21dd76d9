"""The glossary: enough unique terms, real pages and sections, working links and search, one citation style
everywhere LLM Lab cites papers (glossary, quizzes, assets/docs, assets/kb), and the corrected facts stay corrected."""
import ast
import re
from urllib.parse import unquote

import pytest

from core.content import glossary
from core.content.glossary import GLOSSARY, anchor, link, lookup, search, section_url
from core.content.home import PAGE_FILES, PAGE_URLS
from core.content.quizzes import QUIZZES
from tests.conftest import LONG_TEXT, ODD_TEXTS, ROOT
from tests.test_quizzes import page_headers, page_sections

ARXIV_CITATION = re.compile(r"\b(\d{4})\s+\(arXiv\s+(\d{2})(\d{2})\.\d{4,5}\)")


def home_url_paths() -> dict[str, str]:
    """{title: url_path} of the st.Page calls in Home.py."""
    tree = ast.parse((ROOT / "Home.py").read_text(encoding="utf-8"))
    pages = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Page":
            kw = {k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)}
            if "url_path" in kw:
                pages[kw["title"]] = kw["url_path"]
    return pages


# ---- the entries ----------------------------------------------------------------------------------------------
def test_at_least_sixty_unique_terms_with_one_line_definitions():
    terms = [e.term.casefold() for e in GLOSSARY]
    assert len(terms) >= 60 and len(set(terms)) == len(terms)
    names = [n.casefold() for e in GLOSSARY for n in (e.term, *e.aliases)]
    assert len(set(names)) == len(names), "a term or alias names two entries"
    for e in GLOSSARY:
        assert e.term.strip() == e.term and e.definition.strip(), e.term
        assert "\n" not in e.definition and len(e.definition) <= 300, e.term
        assert e.definition.endswith("."), e.term


def test_every_entry_points_at_a_real_page_and_section():
    assert home_url_paths() == PAGE_URLS and set(PAGE_URLS) == set(PAGE_FILES)
    for e in GLOSSARY:
        assert e.page in PAGE_URLS, e.term
        assert e.section == "" or e.section in page_sections(e.page), (e.term, e.page, e.section)


def test_every_page_has_glossary_terms():
    assert {e.page for e in GLOSSARY} == set(PAGE_FILES)


def test_the_terms_the_brief_asks_for_are_defined():
    wanted = ("logit", "softmax", "attention head", "hidden state", "WordPiece", "BPE", "perplexity", "cross-entropy",
              "RoPE", "GQA", "MQA", "KV cache", "prefill", "decode", "roofline", "quantization", "NF4", "absmax",
              "LoRA rank", "QLoRA", "adapter", "InfoNCE", "CLIP", "ViT patch", "ReAct", "prompt injection", "BM25",
              "recall@k", "MRR", "faiss", "HNSW", "IVF", "PQ", "chunk overlap", "speculative decoding",
              "acceptance rate", "continuous batching", "PagedAttention", "temperature", "top-k sampling",
              "top-p sampling", "beam search")
    assert [w for w in wanted if lookup(w) is None or lookup(w).term != w] == []


def test_every_term_a_quiz_uses_is_in_the_glossary():
    terms = {e.term for e in GLOSSARY}
    used = {t for questions in QUIZZES.values() for q in questions for t in q.terms}
    assert used and used <= terms, sorted(used - terms)


def test_lookup_ignores_case_and_knows_aliases():
    assert lookup("kv CACHE").term == "KV cache"
    assert lookup("nucleus sampling").term == "top-p sampling"
    assert lookup("no such term") is None and lookup(None) is None


# ---- links ----------------------------------------------------------------------------------------------------
def test_links_point_at_real_pages_and_sections():
    from core.content.sections import page_sections

    url_paths = set(home_url_paths().values())
    for e in GLOSSARY:
        url = link(e)
        path = re.split(r"[?#]", url)[0]
        assert path == PAGE_URLS[e.page] and path in url_paths, url
        sectioned = page_sections(e.page)
        headers = set(page_headers(e.page)) | ({h for hs in sectioned[1].values() for h in hs} if sectioned else set())
        if "?" in url:
            key, choice = url.split("?")[1].split("#")[0].split("=")
            assert sectioned and key == sectioned[0] and unquote(choice) in sectioned[1], url
        if "#" in url:
            assert url.split("#")[1] in {anchor(h) for h in headers}, url
        if "?" not in url and "#" not in url:
            assert e.section == "", url


def test_every_quiz_and_glossary_section_of_a_sectioned_page_opens_its_section():
    from core.content.sections import page_sections, section_choice

    for page, section in [(p, q.section) for p, qs in QUIZZES.items() for q in qs] + [(e.page, e.section)
                                                                                        for e in GLOSSARY]:
        if section and page_sections(page):
            assert section_choice(page, section), (page, section)


def test_section_url_hand_worked_cases():
    assert section_url("Inference", "KV cache") == "inference?section=KV%20cache"
    assert section_url("Transformer", "1 · Tokens") == "transformer?t_section=Tokens%20and%20attention#1-tokens"
    assert section_url("Fine-tuning", "Memory") == "fine_tuning?f_section=Full%20FT%20vs%20LoRA#memory"
    assert section_url("RAG & long context") == "rag"
    assert link(lookup("GQA")) == "inference?section=KV%20cache"


@pytest.mark.parametrize("heading,expected", [  # what Streamlit's own slugify (its frontend code) gives them
    ("1 · Tokens", "1-tokens"),
    ("3 · A picture is a sentence of patches (ViT)", "3-a-picture-is-a-sentence-of-patches-vi-t"),
    ("4 · From image features to an LLM (LLaVA)", "4-from-image-features-to-an-llm-l-la-va"),
    ("The math of the search tool: BM25", "the-math-of-the-search-tool-bm-25"),
    ("Why a tiny model is overhead-bound and a 7B model bandwidth-bound",
     "why-a-tiny-model-is-overhead-bound-and-a-7-b-model-bandwidth-bound"),
    ("RAG & long context", "rag-and-long-context"),
    ("it's fine", "its-fine"),
    ("Could the tiny LM be the policy?", "could-the-tiny-lm-be-the-policy"),
])
def test_anchor_matches_streamlits_header_anchors(heading, expected):
    assert anchor(heading) == expected


def test_sections_used_are_headers_anchor_handles_exactly():
    used = {e.section for e in GLOSSARY} | {q.section for qs in QUIZZES.values() for q in qs}
    for section in used:
        assert all(ord(c) < 128 or c == "·" for c in section), section  # anchor() does not transliterate


# ---- search ---------------------------------------------------------------------------------------------------
def test_search_ranks_the_exact_term_first():
    for e in GLOSSARY:
        for name in (e.term, *e.aliases):
            assert search(name)[0] is e, name
            assert search(f"  {name.upper()} ")[0] is e, name


def test_search_puts_term_matches_before_definition_matches():
    hits = search("attention")
    in_term = [any("attention" in n.casefold() for n in (h.term, *h.aliases)) for h in hits]
    assert in_term[0] and False in in_term
    assert in_term == sorted(in_term, reverse=True)  # every term match comes before every definition-only match
    assert all("bandwidth" in (h.term + " " + " ".join(h.aliases) + " " + h.definition).casefold()
               for h in search("bandwidth"))


def test_search_matches_all_words_anywhere():
    hits = search("cache attention linear")
    assert lookup("KV cache") in hits


@pytest.mark.parametrize("query", ODD_TEXTS + [None, 123, "((", "[", ".*", "\\", "\x00", "?section=", "#", "日本語",
                                               "a" * 10_000], ids=lambda query: repr(query)[:24])
def test_empty_and_odd_queries_do_not_crash(query):
    hits = search(query)
    assert isinstance(hits, list) and all(isinstance(h, glossary.Entry) for h in hits)
    if not isinstance(query, str) or not query.strip():
        assert hits == []
    assert search(LONG_TEXT) == []


# ---- papers: one citation style everywhere LLM Lab cites them ---------------------------------------------------
def _cited_texts(wrong_options: bool = True) -> dict[str, str]:
    """The text of every document, knowledge-base file, quiz and glossary entry (quiz options meant to be wrong
    left out with wrong_options=False)."""
    texts = {f"assets/{p.parent.name}/{p.name}": p.read_text(encoding="utf-8")
             for folder in ("docs", "kb", "web") for p in sorted((ROOT / "assets" / folder).glob("*.md"))}
    texts["quizzes"] = "\n".join(" ".join([q.question, *(q.options if wrong_options else [q.options[q.answer]]), q.why])
                                 for qs in QUIZZES.values() for q in qs)
    texts["glossary"] = "\n".join(f"{e.definition} {e.paper}" for e in GLOSSARY)
    return texts


def test_papers_are_cited_with_the_year_of_their_first_arxiv_version():
    for name, text in _cited_texts().items():
        for year, yy, mm in ARXIV_CITATION.findall(text):
            assert year[2:] == yy and 1 <= int(mm) <= 12, (name, year, yy + mm)
        bare = len(re.findall(r"arXiv\s+\d{4}\.\d{4,5}", text)) - len(ARXIV_CITATION.findall(text))
        assert bare == 0, f"{name}: an arXiv id without 'YEAR (arXiv id)' in front"
        assert not re.search(r"et al\.,? \(\d{4}\)|et al\., \d{4}", text), name  # "Hu et al. 2021"
        links = re.findall(r"arxiv\.org/abs/\S+", text)
        assert name == "assets/docs/README.md" or not links, (name, links)  # the id, not a link


def test_glossary_papers_have_authors_a_year_and_an_arxiv_link_when_on_arxiv():
    for e in GLOSSARY:
        if not e.paper:
            assert e.paper_url == ""
            continue
        assert re.fullmatch(r"\w[^()]* (19|20)\d\d( \(arXiv \d{4}\.\d{4,5}\))?", e.paper), e.paper
        arxiv = ARXIV_CITATION.search(e.paper)
        assert e.paper_url == (f"https://arxiv.org/abs/{e.paper.split('arXiv ')[1][:-1]}" if arxiv else "")
    assert lookup("LoRA").paper_url == "https://arxiv.org/abs/2106.09685"


# ---- the corrected facts stay corrected ------------------------------------------------------------------------
@pytest.mark.parametrize("wrong", [
    "linear instead of quadratic",  # the cache leaves attention quadratic (and saves it from cubic)
    "O(T²) instead of O(T)",
    "memory-bound decode",  # only large models are; the tiny LM is overhead-bound
    "of the row's range",  # absmax rounding is 1/254 of the absmax
    "GQA-8",  # Falcon-7B is MQA, 71 query heads over one KV head
    "couple of minutes",  # the tiny CLIP trains in about 5.5 minutes
    "Sennrich et al. 2016",  # its first arXiv version is 2015
    "Leviathan et al. 2023",  # its first arXiv version is 2022
    "memory-bound, even here",  # tiny-lm's decode step is overhead-bound on a CPU
])
def test_corrected_statements_do_not_come_back(wrong):
    for name, text in {**_cited_texts(wrong_options=False), **_code_texts()}.items():
        assert wrong not in text, name


def _code_texts() -> dict[str, str]:
    """The pages and every module's prose (docstrings, captions, notes), quizzes and glossary left to _cited_texts."""
    files = [*ROOT.glob("app_pages/*.py"), *ROOT.glob("ui/**/*.py"), *ROOT.glob("core/**/*.py"), ROOT / "Home.py"]
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in files if "content" not in p.parts}


PAPER_LINK = re.compile(r'\(\s*"([^"]*?) ((?:19|20)\d\d)\b[^"]*"\s*,\s*"https://arxiv\.org/abs/(\d\d)\d\d\.')


def test_paper_links_on_pages_name_the_year_of_the_first_arxiv_version():
    """ui.papers(("Leviathan et al. 2022, Fast Inference ...", "https://arxiv.org/abs/2211.17192")): 22 = 2022."""
    found = 0
    for name, text in _code_texts().items():
        for authors, year, yy in PAPER_LINK.findall(text):
            assert year[2:] == yy, (name, authors, year, yy)
            found += 1
    assert found >= 50


def test_parallelism_is_credited_to_the_right_papers():
    doc = (ROOT / "assets" / "docs" / "pretraining.md").read_text(encoding="utf-8")
    pipeline = doc[doc.index("**Pipeline parallelism**"):]
    assert "1811.06965" in pipeline and "1909.08053" not in pipeline and "2104.04473" in pipeline
    assert "Tensor parallelism" in doc[:doc.index("1909.08053")]
