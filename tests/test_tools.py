"""The agent's tools: a safe calculator (hand-worked cases, whitelist, hostile input) and BM25 search."""
import ast
import math
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from core.agents.tools import (
    KB_DIR,
    CalcLimits,
    SearchTool,
    ToolError,
    ToolLimits,
    ToolTimeout,
    bm25_idf,
    bm25_scores,
    build_bm25,
    format_number,
    load_kb,
    run_tool,
    safe_eval,
    tokenize,
)


@pytest.fixture(scope="module")
def search_tool():
    return SearchTool.from_kb()


# ---- calculator: right answers -----------------------------------------------------------------------
@pytest.mark.parametrize("expr, expected", [
    ("2 * (3 + 4)", 14),
    ("7 // 2", 3),
    ("-7 // 2", -4),
    ("7 % 3", 1),
    ("-2 ** 2", -4),  # ** binds tighter than unary minus, as in Python
    ("2 ** 3 ** 2", 512),  # right-associative
    ("2 ** -1", 0.5),
    ("10 / 4", 2.5),
    ("(17 * 23) + sqrt(144)", 403.0),
    ("min(3, 1, 2) + max(4, 9) + abs(-5)", 15),
    ("round(3.14159, 2)", 3.14),
    ("1e3 + 1", 1001.0),
    ("((((1))))", 1),
    ("+5 - -5", 10),
])
def test_calculator_hand_worked(expr, expected):
    assert safe_eval(expr) == expected
    assert type(safe_eval(expr)) is type(expected)


def test_calculator_matches_python_arithmetic_written_directly():
    # Each pair: the calculator's text, and the same arithmetic written as Python code in this test.
    cases = [
        ("175000000000 / 96", 175000000000 / 96),
        ("log(exp(2)) + log10(1000) + log2(8)", 2 + 3 + 3),
        ("sqrt(2) * sqrt(8)", math.sqrt(2) * math.sqrt(8)),
        ("pi * 2 ** 2", math.pi * 4),
        ("e ** 1", math.e),
        ("(3.5 - 1.25) * 4 % 3", (3.5 - 1.25) * 4 % 3),
    ]
    for expr, direct in cases:
        assert safe_eval(expr) == pytest.approx(direct, rel=1e-12), expr


def test_format_number():
    assert format_number(14) == "14"
    assert format_number(175e9 / 96) == "1822916666.67"
    assert format_number(0.5) == "0.5"
    assert format_number(1e-20) == "1e-20"


# ---- calculator: the whitelist --------------------------------------------------------------------
@pytest.mark.parametrize("expr, reason", [
    ("x + 1", "unknown name 'x'"),
    ("'a' * 3", "only numbers"),
    ("True + 1", "only numbers"),
    ("1j * 2", "only numbers"),
    ("[1, 2]", "lists"),
    ("(1, 2)", "tuple"),
    ("1,000", "tuple"),
    ("{1: 2}", "dicts"),
    ("1 if 1 else 2", "if/else"),
    ("1 < 2", "comparisons"),
    ("1 and 2", "and/or"),
    ("lambda: 1", "lambda"),
    ("(x := 1)", "assignment"),
    ("[i for i in range(3)]", "comprehensions"),
    ("f'{1}'", "strings"),
    ("a.b", "attribute access"),
    ("x[0]", "indexing"),
    ("1 & 2", "BitAnd is not allowed"),
    ("2 ^ 3", "write ** for powers"),
    ("sqrt(x=4)", "positional"),
    ("min(*[1, 2])", "positional"),
    ("max()", "1 to 20 numbers"),
    ("print(1)", "calling `print` is not allowed"),
    ("open('/etc/passwd')", "calling `open` is not allowed"),
    ("", "needs an expression"),
    ("2 +", "not a valid arithmetic expression"),
    ("2 × 3", "not a valid arithmetic expression"),
])
def test_calculator_rejects_outside_whitelist(expr, reason):
    with pytest.raises(ToolError, match=re.escape(reason)):
        safe_eval(expr)


# ---- calculator: hostile input, each with a clear error ------------------------------------------
@pytest.mark.parametrize("expr, reason", [
    ("__import__('os').system('rm -rf /')", "calling `__import__('os').system` is not allowed"),
    ("__import__('os')", "calling `__import__` is not allowed"),
    ("().__class__.__bases__", "attribute access"),
    ("(1).__class__", "attribute access"),
    ("2**10**10", "exponent 10,000,000,000 is too large"),
    ("10 ** 101", "would exceed the magnitude limit"),
    ("9" * 10000, "10,000 characters; the limit is 200"),
    ("1" + "0" * 150, "magnitude limit"),
    ("10 ** 100 * 10", "magnitude limit"),
    ("exp(1000)", "exp"),
    ("1 / 0", "division by zero"),
    ("5 % 0", "division by zero"),
    ("0 ** -1", "division by zero"),
    ("(-8) ** 0.5", "not a real number"),
    ("log(-1)", "math domain error"),
    ("round(1.5, 10 ** 6)", "round's digits"),
    ("1+" * 60 + "1", "parts; the limit is 100"),
    ("1e308 * 10", "magnitude limit"),
])
def test_calculator_refuses_hostile_input(expr, reason):
    start = time.perf_counter()
    with pytest.raises(ToolError, match=re.escape(reason)):
        safe_eval(expr)
    assert time.perf_counter() - start < 0.5  # refused before doing the expensive thing


def test_calculator_limits_are_parameters():
    assert safe_eval("2 ** 2000", CalcLimits(max_exponent=5000, max_magnitude=1e700)) == 2 ** 2000
    with pytest.raises(ToolError, match="exponent"):
        safe_eval("2 ** 20", CalcLimits(max_exponent=10))


def test_calculator_deadline_stops_it():
    with pytest.raises(ToolTimeout):
        safe_eval("1 + 1", deadline=time.perf_counter() - 1.0)


def test_core_tools_never_calls_eval_or_exec():
    tree = ast.parse(Path("core/agents/tools.py").read_text())
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not called & {"eval", "exec", "compile", "__import__"}


# ---- BM25 -------------------------------------------------------------------------------------------
def test_bm25_hand_worked_case():
    docs = [["cat", "sat", "mat"], ["dog", "sat"], ["cat", "cat", "dog", "ran"]]
    index = build_bm25(docs)
    assert index.doc_freqs == {"cat": 2, "sat": 2, "mat": 1, "dog": 2, "ran": 1}
    assert index.avgdl == 3.0
    # By hand, k1 = 1.5, b = 0.75, N = 3, df(cat) = 2: idf = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln(1.6).
    # doc 0: |D| = 3 = avgdl, tf = 1: 1 * 2.5 / (1 + 1.5) = 1           -> ln(1.6)
    # doc 2: |D| = 4, tf = 2, K = 1.5 * (0.25 + 0.75 * 4 / 3) = 1.875: 2 * 2.5 / 3.875 -> ln(1.6) * 5 / 3.875
    scores = bm25_scores(index, ["cat"])
    np.testing.assert_allclose(scores, [math.log(1.6), 0.0, math.log(1.6) * 5 / 3.875], rtol=1e-12)
    # Two query words add up: "mat" has df = 1, idf = ln(1 + 2.5 / 1.5), only in doc 0 with tf = 1.
    both = bm25_scores(index, ["cat", "mat"])
    assert both[0] == pytest.approx(math.log(1.6) + math.log(1 + 2.5 / 1.5), rel=1e-12)


def _bm25_direct(docs, query, k1=1.5, b=0.75):
    """The formula, term by term, with plain loops: an independent check of bm25_scores."""
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    out = []
    for doc in docs:
        counts = Counter(doc)
        total = 0.0
        for term in query:
            df = sum(1 for d in docs if term in d)
            if df == 0:
                continue
            idf = math.log((n - df + 0.5) / (df + 0.5) + 1)
            f = counts[term]
            total += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * len(doc) / avgdl))
        out.append(total)
    return np.array(out)


@pytest.mark.parametrize("query", ["GPT-3 parameters layers", "who introduced the transformer", "speed of light",
                                   "attention attention heads", "nothing-matches-this zzz"])
def test_bm25_equals_direct_formula_on_the_kb(search_tool, query):
    docs = [tokenize(e.title + " " + e.text) for e in search_tool.entries]
    for k1, b in [(1.5, 0.75), (1.2, 0.0), (2.0, 1.0)]:
        np.testing.assert_allclose(bm25_scores(search_tool.index, tokenize(query), k1, b),
                                   _bm25_direct(docs, tokenize(query), k1, b), rtol=1e-12, atol=1e-12)


def test_bm25_invariants():
    docs = [["a", "b"], ["a", "c", "c"], ["a"]]
    index = build_bm25(docs)
    assert bm25_idf(3, 3) > 0  # a word in every document still scores (Lucene's idf is never negative)
    assert (bm25_scores(index, ["zzz"]) == 0).all()
    # term frequency saturates: the score stays below idf * (k1 + 1)
    long = build_bm25([["x"] * 1000, ["y"]])
    assert bm25_scores(long, ["x"])[0] < bm25_idf(2, 1) * 2.5


def test_tokenize():
    assert tokenize("How many layers does GPT-3 have?") == ["layers", "gpt-3"]
    assert tokenize("BERT-base, 1.5 billion.") == ["bert-base", "1.5", "billion"]
    assert tokenize("Ünïcødé 日本語") == ["ünïcødé", "日本語"]


# ---- the knowledge base and the search tool -------------------------------------------------------
def test_kb_is_well_formed():
    entries = load_kb(KB_DIR)
    assert 40 <= len(entries) <= 80
    assert len({e.id for e in entries}) == len(entries)
    assert all(e.title and len(e.text) > 30 for e in entries)
    # every model-size figure names its source: a year, and a paper title in quotes or its authors
    for e in entries:
        if re.search(r"\d (million|billion|trillion) parameters", e.text) and "fictional" not in e.text:
            assert re.search(r"\b(19|20)\d\d\b", e.text), e.title
            assert re.search(r'"[^"]{8,}"|et al\.', e.text), e.title


def test_search_finds_the_right_entry(search_tool):
    top = search_tool.ranked("GPT-3 parameters layers")[0]
    assert top[0].title == "GPT-3" and top[1] > 0
    assert search_tool.ranked("speed of light metres per second")[0][0].title == "Speed of light"


def test_search_tool_output_and_errors(search_tool):
    result = run_tool("search", "GPT-3 layers", search_tool)
    assert result.ok and result.text.startswith("[1] GPT-3 (BM25 ")
    assert len(result.text.splitlines()) == 3 and len(result.scores) == 10
    assert run_tool("search", "日本語のテキスト", search_tool).text.startswith("No entry")
    empty = run_tool("search", "the of and", search_tool)
    assert not empty.ok and "at least one content word" in empty.text


def test_run_tool_limits(search_tool):
    unknown = run_tool("shell", "rm -rf /", search_tool)
    assert not unknown.ok and "unknown tool 'shell'" in unknown.text
    big = run_tool("calculator", "9" * 10000, search_tool)
    assert not big.ok and "10,000 characters; the limit is 300" in big.text
    small = run_tool("search", "GPT-3", search_tool, ToolLimits(max_output_chars=50))
    assert small.text.startswith("[1] GPT-3") and "[truncated:" in small.text and len(small.text) < 90
    late = run_tool("calculator", "1 + 1", search_tool, ToolLimits(timeout_s=0.0))
    assert not late.ok and "time" in late.text


def test_bm25_chart(search_tool):
    from core.charts.agents import bm25_chart

    result = run_tool("search", "GPT-3 parameters layers", search_tool)
    spec = bm25_chart(result.scores, 3, "GPT-3 parameters layers").to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert [r["entry"] for r in rows][:3] == [line.split(" (BM25")[0][4:] for line in result.text.splitlines()]
    assert [r["shown to the agent"] for r in rows].count("yes") == 3 and len(rows) == 10
    assert spec["encoding"]["y"]["sort"] == [r["entry"] for r in rows]
    with pytest.raises(ValueError, match="no scores"):
        bm25_chart((), 3, "q")
