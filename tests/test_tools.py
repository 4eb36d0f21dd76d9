"""The agent's tools: a safe calculator (hand-worked cases, whitelist, hostile input) and BM25 search."""
import ast
import math
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from core.agents import tools
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
    ("(" * 32 + "1 / 4" + ")" * 32, 0.25),  # 32 nested parentheses: the limit, still allowed
    ("+5 - -5", 10),
    ("0.5 ** -332", 2.0 ** 332),  # a negative power of |base| < 1 is fine while the result stays under 1e100
    ("2 ** -1000", 2.0 ** -1000),
    ("0 ** 0", 1),
    ("log(8, 2)", 3.0),
    ("log(1000, 10)", 2.9999999999999996),  # ln 1000 / ln 10, as math.log computes it
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


# ---- calculator: hostile input, each with a clear error and bounded work --------------------------
# (expression, kind: the stage that stops it, words of the message). Kinds, cheapest first: "input" is refused
# before parsing, "syntax" by the parser, "too complex" by the node count before anything is computed,
# "not allowed" by the whitelist, "too large" by the magnitude/exponent guard, "undefined" by arithmetic itself.
HOSTILE = [
    # arithmetic with no value: every one was a traceback before
    ("log(5, 1)", "undefined", "log's base must be positive and not 1, got 1"),
    ("log(8, 1)", "undefined", "log's base must be positive and not 1"),
    ("log(1, 1)", "undefined", "log's base must be positive and not 1"),
    ("log(5, 0)", "undefined", "log's base must be positive and not 1, got 0"),
    ("log(5, -2)", "undefined", "log's base must be positive"),
    ("log(0)", "undefined", "log(0): math domain error (log needs a positive number)"),
    ("log(-1)", "undefined", "math domain error"),
    ("log10(-5)", "undefined", "log10 needs a positive number"),
    ("sqrt(-1)", "undefined", "sqrt needs a number ≥ 0"),
    ("1 / 0", "undefined", "1 / 0: division by zero"),
    ("1 // 0.0", "undefined", "division by zero"),
    ("5 % 0", "undefined", "division by zero"),
    ("(1 + 2) / (3 - 3)", "undefined", "(1 + 2) / (3 - 3): division by zero"),
    ("0 ** -1", "undefined", "division by zero"),
    ("(-8) ** 0.5", "undefined", "not a real number"),
    ("(-8) ** (1/3)", "undefined", "not a real number"),
    ("exp(1000)", "undefined", "exp(1000): math range error"),
    ("exp(exp(exp(5)))", "undefined", "math range error"),
    # powers whose result would be astronomically large: refused from logarithms, never computed
    ("0.1 ** -1000", "too large", "0.1 ** -1000 would be about 10^1,000"),
    ("(1/3) ** -999", "too large", "would exceed the magnitude limit"),
    ("(-0.5) ** -999", "too large", "(-0.5) ** -999 would be about 10^301"),
    ("0.5 ** -333", "too large", "would exceed the magnitude limit"),
    ("2**10**10", "too large", "exponent 10,000,000,000 is too large"),
    ("9**9**9", "too large", "exponent 387,420,489 is too large"),
    ("2**2**2**2**2", "too large", "exponent 65,536 is too large"),
    ("99 ** 99", "too large", "99 ** 99 would be about 10^198"),
    ("10 ** 101", "too large", "would exceed the magnitude limit"),
    ("(10**50) ** (10**50)", "too large", "is too large (limit ±1,000)"),
    ("99**50 * 99**50", "too large", "magnitude limit"),  # two 100-digit numbers: multiplied, then refused
    ("10 ** 100 * 10", "too large", "magnitude limit"),
    ("1" + "0" * 150, "too large", "magnitude limit"),
    ("1e308 * 10", "too large", "magnitude limit"),
    # nan and inf tricks: a float literal past 1e308 is inf; nothing can name nan
    ("1e999", "too large", "not a finite number"),
    ("1e999 - 1e999", "too large", "not a finite number"),
    ("nan", "not allowed", "unknown name 'nan'"),
    ("float('nan')", "not allowed", "calling `float` is not allowed"),
    ("float('inf') * 0", "not allowed", "calling `float` is not allowed"),
    # escaping the sandbox
    ("__import__('os').system('rm -rf /')", "not allowed", "calling `__import__('os').system` is not allowed"),
    ("__import__('os')", "not allowed", "calling `__import__` is not allowed"),
    ("__import__", "not allowed", "unknown name '__import__'"),
    ("__builtins__", "not allowed", "unknown name '__builtins__'"),
    ("().__class__.__bases__", "not allowed", "attribute access"),
    ("(1).__class__.__mro__", "not allowed", "attribute access"),
    ("pi.real", "not allowed", "attribute access"),
    ("lambda: 1", "not allowed", "lambda"),
    ("(lambda: 1)()", "not allowed", "calling `lambda: 1` is not allowed"),
    ("[x for x in range(10**9)]", "not allowed", "comprehensions"),
    ("{x for x in (1,)}", "not allowed", "comprehensions"),
    ("{x: 1 for x in (1,)}", "not allowed", "comprehensions"),
    ("sum(x for x in range(10**9))", "not allowed", "calling `sum` is not allowed"),
    ("'a' * 10**9", "not allowed", "only numbers are allowed, got the str 'a'"),
    ("b'x' * 10**9", "not allowed", "only numbers are allowed, got the bytes"),
    ("f'{10**10**10}'", "not allowed", "strings are not allowed"),
    ("round(1.5, 10 ** 6)", "not allowed", "round's digits"),
    ("max(" + ", ".join(["1"] * 30) + ")", "not allowed", "max takes 1 to 20 numbers"),
    ("sqrt(1, 2)", "not allowed", "sqrt(1, 2): math.sqrt() takes exactly one argument"),
    ("min(1)", "not allowed", "min(1): 'int' object is not iterable"),
    # text the parser rejects: digits from other scripts, invisible and control characters
    ("٣ + ٤", "syntax", "invalid character '٣'"),
    ("１＋１", "syntax", "invalid character '１'"),
    ("\u202e1 + 1", "syntax", "non-printable character U+202E"),
    ("1\x00", "syntax", "null bytes"),
    ("1 +\n__import__('os')", "syntax", "not a valid arithmetic expression"),
    # size: long input is refused before parsing, deep trees before evaluating
    ("9" * 10000, "input", "10,000 characters; the limit is 200"),
    ("(" * 5000 + "1" + ")" * 5000, "input", "10,001 characters; the limit is 200"),
    ("-" * 10000 + "1", "input", "10,001 characters; the limit is 200"),
    ("1+" * 50000 + "1", "input", "100,001 characters"),
    ("-" * 150 + "1", "too complex", "parts; the limit is 100"),
    ("1+" * 60 + "1", "too complex", "parts; the limit is 100"),
    ("(" * 99 + "1" + ")" * 99, "too complex", "the parentheses nest 99 deep; the limit is 32"),  # no nodes, but deep
    ("[" * 40 + "]" * 40, "too complex", "nest 40 deep"),
    ("", "input", "needs an expression"),
    ("   \t\n ", "input", "needs an expression"),
]


def _spy_on_arithmetic(monkeypatch) -> tuple[list, list]:
    """Record every operation the calculator runs and every parse, by wrapping the tables it runs them from."""
    ops, parsed = [], []
    for table in (tools.BINARY_OPS, tools.UNARY_OPS, tools.FUNCTIONS):
        for key, fn in list(table.items()):
            def recorded(*args, key=key, fn=fn):
                ops.append((key, args))
                return fn(*args)
            monkeypatch.setitem(table, key, recorded)
    real_parse = ast.parse

    def parse(text, *args, **kwargs):
        parsed.append(text)
        return real_parse(text, *args, **kwargs)

    monkeypatch.setattr(tools.ast, "parse", parse)
    return ops, parsed


@pytest.mark.parametrize("expr, kind, reason", HOSTILE, ids=[f"{i}:{e[:30]!r}" for i, (e, _, _) in enumerate(HOSTILE)])
def test_calculator_refuses_hostile_input(monkeypatch, expr, kind, reason):
    ops, parsed = _spy_on_arithmetic(monkeypatch)
    with pytest.raises(ToolError, match=re.escape(reason)) as refused:
        safe_eval(expr)
    assert refused.value.kind == kind
    # It finishes quickly by construction: at most one operation per parse-tree node, and every operation
    # ran on numbers within the limits (so the largest is a product of two ~333-bit integers).
    limits = CalcLimits()
    assert len(ops) <= limits.max_nodes
    for op, args in ops:
        assert all(abs(a) <= limits.max_magnitude for a in args), (op, args)
        if op is ast.Pow:
            base, exponent = args
            assert abs(exponent) <= limits.max_exponent
            assert base == 0 or exponent * math.log10(abs(base)) <= math.log10(limits.max_magnitude)
    if kind == "input":
        assert parsed == []  # refused before the parser saw it
    if kind in ("input", "syntax", "too complex"):
        assert ops == []  # refused before anything was computed
    result = run_tool("calculator", expr, SearchTool((), build_bm25([])), ToolLimits(max_input_chars=200_000))
    assert not result.ok and result.text.startswith("Error: ")


def test_calculator_refuses_deep_nesting_even_with_loose_limits():
    # Past the length limit, Python's own parser is the bound: it refuses deep nesting without a traceback.
    loose = CalcLimits(max_chars=10**6)
    for expr in ["(" * 5000 + "1" + ")" * 5000, "-" * 10000 + "1", "~" * 10000 + "1"]:
        with pytest.raises(ToolError) as refused:
            safe_eval(expr, loose)
        assert refused.value.kind in ("syntax", "too complex"), (expr[:5], refused.value)


def test_paren_depth_hand_worked():
    assert tools._paren_depth("1 + 2") == 0
    assert tools._paren_depth("((1) + [2])") == 2
    assert tools._paren_depth("(1)(2)(3)") == 1
    assert tools._paren_depth(")))(((") == 3  # unbalanced text is the parser's to refuse; depth is still bounded


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


SEARCH_HOSTILE = [  # (query, whether it runs, words of the Observation)
    ("", False, "at least one content word"),
    ("   \n\t ", False, "at least one content word"),
    ("the of and", False, "at least one content word"),
    (".*+?^$()[]{}|\\", False, "at least one content word"),  # regex metacharacters are text, never a pattern
    ("(x+)+y$", True, "No entry"),  # a classic catastrophic-backtracking pattern, as a query
    ("\x00\x07\x1b[31m\x7f", True, "No entry"),  # control characters and an ANSI escape
    ("<script>alert(1)</script>", True, "(BM25 "),  # searched as the words script, alert, 1
    ("[x](javascript:alert(1))", True, "(BM25 "),
    ("שלום עולם مرحبا 🤖🤖", True, "No entry"),  # right-to-left scripts and emoji
    ("GPT-3 .* (layers|heads)", True, "[1] GPT-3"),
    ("lorem ipsum " * 8534, False, "102,408 characters; the limit is 300"),  # 100 kB
]


@pytest.mark.parametrize("query, runs, expected", SEARCH_HOSTILE, ids=[repr(q[:20]) for q, _, _ in SEARCH_HOSTILE])
def test_search_tool_hostile_input(search_tool, query, runs, expected):
    result = run_tool("search", query, search_tool)
    assert result.ok == runs and expected in result.text


def test_search_ranks_100kb_directly_without_failing(search_tool):
    # Past run_tool's input limit, the tokenizer's pattern has no nested quantifiers: it is linear in the text.
    text = "GPT-3 " + "lorem ipsum " * 8534 + "\x00<script>"
    ranked = search_tool.ranked(text)
    assert ranked[0][0].title == "GPT-3" and len(ranked) == len(search_tool.entries)


class _BrokenSearch:
    """A search tool with a bug: run_tool must still return an Observation."""

    def ranked(self, query, deadline=None):
        raise RuntimeError("a bug in the tool")


@pytest.mark.parametrize("name, tool_input, expected", [
    ("search", "GPT-3", "the search tool failed unexpectedly (RuntimeError)"),
    ("calculator", None, "the input must be text, got NoneType"),
    ("calculator", 12, "the input must be text, got int"),
    (None, "1 + 1", "unknown tool 'None'"),
    ("calculator", "log(5, 1)", "log's base must be positive and not 1"),
    ("calculator", "0.1 ** -1000", "would exceed the magnitude limit"),
    ("calculator", "(1/3) ** -999", "would exceed the magnitude limit"),
])
def test_run_tool_never_raises(name, tool_input, expected):
    result = run_tool(name, tool_input, _BrokenSearch())
    assert not result.ok and expected in result.text and result.text.startswith("Error: ")


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
