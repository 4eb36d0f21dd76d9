"""The agent's newer tools: the code tool (allowlist, then a limited process), unit conversion and dates."""
import ast
import contextlib
import datetime as dt
import io
import itertools
import math
from pathlib import Path

import pytest

from core.agents import code_interpreter, code_tool, dates, units
from core.agents.code_tool import (
    CodeError,
    CodeLimits,
    check_code,
    run_checked,
    run_code,
)
from core.agents.loop import take_step
from core.agents.tools import TOOL_DESCRIPTIONS, SearchTool, ToolLimits, run_tool

SLOW = ToolLimits(timeout_s=10.0)  # two shared cores: a fresh interpreter can take a while to start


@pytest.fixture(scope="module")
def search_tool():
    return SearchTool.from_kb()


# ---- code tool, wall 1: the allowlist refuses before anything runs --------------------------------------
REFUSED = [  # (code, words of the refusal)
    ("__import__('os')", "names starting with _ are not allowed, got '__import__'"),
    ("__import__('os').system('ls')", "attribute access"),
    ("().__class__", "attribute access (`x.y`) is not allowed"),
    ("().__class__.__base__.__subclasses__()", "attribute access"),
    ("open('x')", "calling 'open' is not allowed"),
    ("import os", "import is not allowed"),
    ("from os import system", "import is not allowed"),
    ("[].append", "attribute access"),
    ("[].append(1)", "attribute access (`[].append`) is not allowed"),
    ("'{0.__class__}'.format(1)", "attribute access"),
    ("f'{x.y}'", "attribute access"),
    ("__builtins__", "names starting with _"),
    ("x = 1\n_loop = 2", "names starting with _"),
    ("lambda: 1", "lambda is not allowed"),
    ("def f(): pass", "def is not allowed"),
    ("class A: pass", "class is not allowed"),
    ("with x: pass", "with is not allowed"),
    ("try:\n    pass\nexcept Exception:\n    pass", "try is not allowed"),
    ("global x", "global is not allowed"),
    ("while True: pass", "while is not allowed"),
    ("(x := 1)", "the := operator is not allowed"),
    ("raise SystemExit", "raise is not allowed"),
    ("eval('1')", "calling 'eval' is not allowed"),
    ("exec('import os')", "calling 'exec' is not allowed"),
    ("getattr(1, 'real')", "calling 'getattr' is not allowed"),
    ("type(1)", "calling 'type' is not allowed"),
    ("x = os", "unknown name 'os'"),
    ("len = 3", "assigning to the builtin 'len'"),
    ("print(**{'file': 1})", "keyword unpacking"),
    ("x = 1 +", "not valid Python"),
    ("\x00", "not valid Python"),
    ("", "needs some Python"),
    ("[" * 40 + "]" * 40, "brackets nest 40 deep"),
    ("+".join(["1"] * 300), "the limit is 400"),
]


@pytest.mark.parametrize("code, reason", REFUSED, ids=[repr(c[:30]) for c, _ in REFUSED])
def test_code_tool_refuses_before_running(monkeypatch, code, reason):
    def no_spawn(*args, **kwargs):
        raise AssertionError("refused code must never reach a process")

    monkeypatch.setattr(code_tool.subprocess, "run", no_spawn)
    with pytest.raises(CodeError, match=None) as err:
        run_code(code)
    assert reason in str(err.value)
    assert run_checked(code, CodeLimits())["ok"] is False  # the child checks again: it trusts nobody


def test_code_tool_refusal_names_the_line():
    with pytest.raises(CodeError, match=r"import is not allowed \(line 3\)"):
        check_code("x = 1\ny = 2\nimport os")


def test_code_tool_never_runs_unchecked_text():
    """No eval, exec or compile anywhere: the child interprets the tree, and only after check_code accepted it."""
    tree = ast.parse("\n".join(Path(m.__file__).read_text() for m in (code_tool, code_interpreter)))
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not called & {"eval", "exec", "compile", "__import__", "open"}
    run_checked_def = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "run_checked")
    guarded = next(n for n in run_checked_def.body if isinstance(n, ast.Try))
    first = guarded.body[0].value  # try: tree = check_code(code, limits), before the interpreter runs anything
    assert isinstance(first, ast.Call) and first.func.id == "check_code"


def test_the_interpreter_refuses_what_the_check_would(monkeypatch):
    """Wall 1 twice over: a node type the interpreter has no method for cannot run, even unchecked."""
    monkeypatch.setattr(code_interpreter, "check_code", lambda code, limits: ast.parse(code))
    for code in ["import os", "x = 1\nx.real", "open('x')", "while 1: pass", "f = lambda: 1"]:
        result = run_checked(code, CodeLimits())
        assert result["ok"] is False and result["kind"] == "not allowed" and "not allowed" in result["error"], result


# ---- code tool, wall 2: the process limits stop what the allowlist allows --------------------------------
KILLED = [  # (code, limits, accepted kinds, words of one accepted message)
    ("[0] * 10**9", CodeLimits(), {"limit"}, "memory limit"),
    ("x = [[0] * 10**6 for i in range(1000)]", CodeLimits(), {"limit"}, "memory"),
    ("print('a' * 10**8)", CodeLimits(), {"limit"}, "output limit"),
    ("for i in range(10**6): print(i)", CodeLimits(), {"limit"}, "output limit"),
    ("for i in range(10**9): pass", CodeLimits(), {"limit"}, "loop limit: more than 100,000 iterations"),
    ("n = 0\nfor i in range(1000):\n    for j in range(1000):\n        n += 1", CodeLimits(), {"limit"}, "loop limit"),
    ("sum(i for i in range(10**9))", CodeLimits(), {"limit"}, "loop limit"),
    ("x = 10**10**10", CodeLimits(wall_seconds=30), {"limit"}, "memory limit"),  # refused before computing
    ("x = 1 << 10**10", CodeLimits(wall_seconds=30), {"limit"}, "memory limit"),
    ("x = 2\nx **= 10**10", CodeLimits(wall_seconds=30), {"limit"}, "memory limit"),
    ("sum(range(10**12))", CodeLimits(wall_seconds=30), {"limit"}, "CPU time limit"),  # a C loop: not counted
    ("sum(range(10**12))", CodeLimits(cpu_seconds=20, wall_seconds=0.5), {"timeout"}, "killed at the wall-clock limit"),
]


@pytest.mark.parametrize("code, limits, kinds, words", KILLED,
                         ids=[f"{c[:24]!r}-{i}" for i, (c, *_) in enumerate(KILLED)])
def test_code_tool_is_stopped_past_its_limits(code, limits, kinds, words):
    result = run_code(code, limits)
    assert not result.ok and result.kind in kinds and words in result.error, result
    assert len(result.error) < 400
    assert result.seconds < limits.wall_seconds + 5  # killed, not left running


def test_cpu_limit_kills_the_process():
    result = run_code("sum(range(10**12))", CodeLimits(memory_mb=2048, wall_seconds=30))
    assert not result.ok and "CPU time limit" in result.error


def test_code_tool_respects_the_callers_deadline():
    import time

    with pytest.raises(CodeError, match="ran out of time"):
        run_code("1 + 1", deadline=time.perf_counter() - 1)


# ---- code tool: allowed code gives what Python gives ------------------------------------------------------
ALLOWED = [
    "x = [3, 1, 2]\nprint(sorted(x), sum(x), len(x), min(x), max(x))",
    "total = 0\nfor n in range(1, 101):\n    total += n\nprint(total)",
    "words = ['b', 'a', 'c']\nprint(sorted(words)[::-1] if words else None, words + ['d'], 'a' < 'b')",
    "d = {'a': 1, 'b': 2}\nd['c'] = 3\nprint(d, len(d), 'a' in d, d['b'] * 10)",
    "s = 'hello world'\nprint(s[::-1], s[:5], s * 2, len(s), str(42) + '!')",
    "squares = [i * i for i in range(10) if i % 2 == 0]\nprint(squares, sum(squares))",
    "a, b = 7, 3\nprint(a // b, a % b, a ** b, a / b, -a, abs(-a), round(a / b, 3), int('12') + float('0.5'))",
    "t = (1, 2, 3)\nprint(t + (4,), t[1:], list(t), tuple([5]), 2 in t, t == (1, 2, 3))",
    "for i, c in enumerate('abc'):\n    if c == 'b':\n        continue\n    print(i, c)",
    "for a, b in zip([1, 2], [3, 4]):\n    print(a * b)\nprint(list(reversed([1, 2, 3])))",
    "x = 5\nx -= 2\nx *= 3\nprint(x, x > 5 and x < 10, not x, x if x else 0)",
    "print(f'{2 ** 0.5:.3f}', '%d items' % 3, bool([]), set([1, 1, 2]))",
    "xs = [1, 2, 3]\nxs[0] = 10\ndel xs[1]\nprint(xs, sorted(xs, reverse=True), max(['aa', 'b'], key=len))",
    "for i in range(3):\n    for j in range(3):\n        if i == j:\n            break\n        print(i, j)",
    # the interpreter's corners, against Python itself
    "a, *b, c = range(6)\n(d, e), f = 'xy', [1]\nprint(a, b, c, d, e, f)",
    "x = y = [1]\nx += [2]\nprint(x, y, x is y, x is not None)",
    "m = [[0] * 3 for i in range(3)]\nm[1][2] += 5\nm[0][0:2] = [7, 8]\nprint(m)",
    "d = {k: v for k, v in zip('abc', range(3)) if v}\nprint(d, {**d, 'z': 0})",
    "i = 99\nsq = [i * j for i in range(3) for j in range(i) if j]\nprint(sq, i, {c for c in 'abca'} == set('abc'))",
    ("for i in range(3):\n    pass\nelse:\n    print('no break', i)\n"
     "for i in range(3):\n    break\nelse:\n    print('x')"),
    ("x, w = 3.14159, 8\n"
     "print(f'{x:.2f}|{x!r}|{\"s\"!r:>{w}}|{x:{w}.1f}|{[1, 2]!s}|{\"é\"!a}')"),
    "print(1 < 2 < 3, 1 < 3 < 2, 0 or [] or 'z', 1 and 0 and 2, 5 & 3 | 8 ^ 1, ~5, 1 << 4, -7 // 2, -7 % 3)",
    "xs = list(range(10))\ndel xs[::2], xs[0]\nprint(xs, xs[-1], xs[1:-1:2], 4 not in xs)",
    "print(max((3, 'a'), (3, 'b')), sorted([3, 1, 2], key=abs, reverse=True), *[1, 2], sep='-', end='!\\n')",
    "print(sum(x * x for x in range(5)), list(zip(range(3), (c for c in 'ab'))), dict(a=1), int('ff', 16))",
    "n = 2\nn **= 10\nn <<= 2\nn //= 3\nn -= 1\nn %= 100\nn |= 1\nprint(n, 2 ** -1, 2 ** 0.5, 0 ** 0)",
]


def _python_itself(code: str) -> str:
    """What plain Python prints for trusted test code: the independent reference."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, {})  # noqa: S102 -- our own test snippets, not agent input
    return out.getvalue()


@pytest.mark.parametrize("code", ALLOWED, ids=[repr(c[:30]) for c in ALLOWED])
def test_allowed_code_prints_what_python_prints(code):
    in_child = run_checked(code, CodeLimits())
    assert in_child == {"ok": True, "output": _python_itself(code), "value": ""}


def test_allowed_code_through_the_process():
    result = run_code("x = [3, 1, 2]\nprint(sorted(x))\nsum(x) * 2")
    assert result.ok and result.output == "[1, 2, 3]\n" and result.value == "12"
    assert result.text() == "[1, 2, 3]\n12"
    assert run_code("x = 1").text() == "(the code ran and printed nothing)"
    failed = run_code("xs = [1, 2]\nxs[5]")
    assert not failed.ok and failed.kind == "runtime" and failed.error == "IndexError: list index out of range (line 2)"


def test_runtime_errors_read_like_python():
    for code, error in [("1 / 0", "ZeroDivisionError: division by zero (line 1)"),
                        ("x = 1\ny = [x,\n     z]\nz = 2", "NameError: name 'z' is not defined (line 3)"),
                        ("a, b = [1, 2, 3]", "ValueError: too many values to unpack (expected 2) (line 1)"),
                        ("a, b, c = [1]", "ValueError: not enough values to unpack (expected 3, got 1) (line 1)"),
                        ("d = {}\nfor i in range(2):\n    d['k'] += 1", "KeyError: 'k' (line 3)"),
                        ("x = 1\ndel x\nprint(x)", "NameError: name 'x' is not defined (line 3)"),
                        ("print([i for i in range(3)], i)", "NameError: name 'i' is not defined (line 1)"),
                        ("x = 2.0 ** 5000", "OverflowError"),
                        ("'a' + 1", "TypeError: can only concatenate str")]:
        result = run_checked(code, CodeLimits())
        assert result["ok"] is False and result["kind"] == "runtime" and result["error"].startswith(error), result


def test_last_expression_is_echoed_like_a_repl():
    assert run_checked("sum(i * i for i in range(10))", CodeLimits())["value"] == "285"
    assert run_checked("'a' + 'b'", CodeLimits())["value"] == "'ab'"
    assert run_checked("print(1)", CodeLimits()) == {"ok": True, "output": "1\n", "value": ""}


# ---- unit conversion ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("5 km to mi", "5 km = 3.10686 mi"),  # 5 / 1.609344
    ("100 °C to °F", "100 °C = 212 °F"),
    ("100 C to F", "100 °C = 212 °F"),
    ("-40 C to F", "-40 °C = -40 °F"),
    ("32 F in C", "32 °F = 0 °C"),
    ("0 K to C", "0 K = -273.15 °C"),
    ("1 mile to feet", "1 mi = 5280 ft"),
    ("1 lb to g", "1 lb = 453.592 g"),
    ("3 days in hours", "3 day = 72 h"),
    ("1 GiB to MB", "1 GiB = 1073.74 MB"),  # 2**30 / 10**6
    ("1 GB to MiB", "1 GB = 953.674 MiB"),
    ("8 bits to B", "8 b = 1 B"),
    ("1,000 m to KM", "1000 m = 1 km"),
    ("100 Mbit to MB", "100 Mbit = 12.5 MB"),
])
def test_conversions_against_hand_values(text, expected):
    assert units.convert(text) == expected


def test_conversions_round_trip_within_every_kind():
    for kind, table in units.UNITS.items():
        for a, b in itertools.permutations(table, 2):
            back = units.convert_value(units.convert_value(300.0, a, b), b, a)
            assert math.isclose(back, 300.0, rel_tol=1e-12), (kind, a, b)


@pytest.mark.parametrize("text, kind, words", [
    ("5 km to kg", "refused", "cannot convert a length (km) to a mass (kg)"),
    ("5 furlongs to m", "refused", "unknown unit 'furlongs'"),
    ("-300 C to K", "refused", "below absolute zero"),
    ("five km to mi", "syntax", "write <number> <unit> to <unit>"),
    ("5 km", "syntax", "could not read"),
    ("", "input", "needs a conversion"),
    ("1" * 200 + " m to km", "input", "the limit is 100"),
    ("1e999 m to km", "too large", "magnitude limit"),
    ("1e99 PB to b", "too large", "magnitude limit"),
])
def test_conversion_errors(text, kind, words):
    with pytest.raises(units.UnitError) as err:
        units.convert(text)
    assert err.value.kind == kind and words in str(err.value)


# ---- dates --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("start, days", [(dt.date(2024, 2, 28), 2), (dt.date(2023, 2, 28), 1),
                                         (dt.date(2000, 1, 1), 10_000), (dt.date(1999, 12, 31), -365),
                                         (dt.date(2024, 12, 31), 1)])
def test_adding_days_matches_datetime(start, days):
    end = start + dt.timedelta(days=days)
    sign = "+" if days >= 0 else "-"
    assert dates.date_tool(f"{start.isoformat()} {sign} {abs(days)} days") == f"{end.isoformat()} ({end:%A})"


def test_date_hand_worked():
    assert dates.date_tool("2024-02-28 + 2 days") == "2024-03-01 (Friday)"  # 2024 is a leap year
    assert dates.date_tool("2024-01-01 + 3 weeks") == "2024-01-22 (Monday)"
    assert dates.date_tool("days between 2024-01-01 and 2024-12-25") == "359 days"
    assert dates.date_tool("2024-12-25 - 2024-01-01") == "359 days"
    assert dates.date_tool("weekday of 2024-07-04") == "2024-07-04 is a Thursday"
    assert dates.date_tool("2024-01-31 + 1 month").startswith("2024-02-29 (Thursday); the day was clamped")
    assert dates.date_tool("2024-02-29 + 1 year").startswith("2025-02-28")


@pytest.mark.parametrize("a, b", [(dt.date(2024, 1, 1), dt.date(2024, 12, 25)),
                                  (dt.date(1969, 7, 20), dt.date(2024, 3, 1)),
                                  (dt.date(2024, 3, 1), dt.date(2024, 2, 28))])
def test_days_between_and_weekday_match_datetime(a, b):
    days = (b - a).days
    assert dates.date_tool(f"days between {a} and {b}") == f"{days:,} day{'s' if abs(days) != 1 else ''}"
    assert dates.date_tool(f"weekday of {a}") == f"{a} is a {a:%A}"


@pytest.mark.parametrize("text, words", [
    ("2023-02-29 + 1 day", "February 2023 has 28 days (not a leap year)"),
    ("2024-13-01 + 1 day", "there is no month 13"),
    ("9999-12-31 + 1 day", "outside years 1 to 9999"),
    ("0001-01-01 - 1 day", "outside years 1 to 9999"),
    ("2024-01-01 + 999999999 days", "over the limit"),
    ("2024-01-01 + 999999999 years", "outside years 1 to 9999"),
    ("today + 3 days", "no clock"),
    ("03/04/2024 + 1 day", "write dates as YYYY-MM-DD"),
    ("next tuesday", "could not read"),
    ("", "needs a question"),
    ("2024-01-01 + " + "9" * 200, "the limit is 100"),
])
def test_date_errors(text, words):
    with pytest.raises(dates.DateError, match=None) as err:
        dates.date_tool(text)
    assert words in str(err.value)


# ---- wiring: run_tool and the loop ----------------------------------------------------------------------------
def test_new_tools_are_in_the_allowlist_and_the_prompt():
    assert {"convert", "date", "code", "browse"} <= set(TOOL_DESCRIPTIONS)


def test_run_tool_runs_each_new_tool(search_tool):
    assert run_tool("convert", "5 km to mi", search_tool).text == "5 km = 3.10686 mi"
    assert run_tool("date", "2024-02-28 + 2 days", search_tool).text == "2024-03-01 (Friday)"
    code = run_tool("code", "x = [3, 1, 2]; print(sorted(x), sum(x))", search_tool, SLOW)
    assert code.ok and code.text == "[1, 2, 3] 6"
    page = run_tool("browse", "wiki.local/rag", search_tool)
    assert page.ok and page.text.startswith("wiki.local/rag: Retrieval-augmented generation")
    out = run_tool("browse", "https://evil.example/collect?q=secret", search_tool)
    assert not out.ok and out.text.startswith("Error: only the offline mini-web")


@pytest.mark.parametrize("name, tool_input, words", [
    ("code", "import os", "import is not allowed"),
    ("code", "().__class__", "attribute access"),
    ("code", "[0] * 10**9", "memory limit"),
    ("code", "1 / 0", "ZeroDivisionError: division by zero"),
    ("code", None, "the input must be text, got NoneType"),
    ("code", "x = 1\n" * 60, "the limit is 300"),
    ("convert", "5 km to kg", "cannot convert"),
    ("convert", 12, "the input must be text, got int"),
    ("convert", "\x00\x1b[31m", "could not read"),
    ("date", "2023-02-29 + 1 day", "not a leap year"),
    ("date", "<script>alert(1)</script>", "could not read"),
    ("date", [], "the input must be text, got list"),
    ([], "x", "unknown tool '[]'"),
    ("finish", "x", "unknown tool 'finish'"),
])
def test_run_tool_never_raises_for_malformed_calls(search_tool, name, tool_input, words):
    result = run_tool(name, tool_input, search_tool, SLOW)
    assert not result.ok and result.text.startswith("Error: ") and words in result.text


def test_code_tool_obeys_the_per_tool_timeout(search_tool):
    late = run_tool("code", "1 + 1", search_tool, ToolLimits(timeout_s=0.0))
    assert not late.ok and "ran out of time" in late.text
    killed = run_tool("code", "sum(range(10**12))", search_tool, ToolLimits(timeout_s=0.3))
    assert not killed.ok and "killed" in killed.text and killed.seconds < 3


def test_output_is_capped_by_run_tool_too(search_tool):
    limits = ToolLimits(timeout_s=10, max_output_chars=50)
    result = run_tool("code", "for i in range(300): print(i)", search_tool, limits)
    assert result.ok and "[truncated:" in result.text and len(result.text) < 100


@pytest.mark.parametrize("action, observation", [
    ("convert[26.2 miles to km]", "26.2 mi = 42.1648 km"),
    ("date[days between 2024-01-01 and 2024-12-25]", "359 days"),
    ("code[print(sum([i for i in range(5)]))]", "10"),
])
def test_typed_actions_reach_the_new_tools(search_tool, action, observation):
    step = take_step(1, "I use a tool.", action, search_tool, SLOW, by="you")
    assert step.ok and step.observation == observation and step.by == "you"


# ---- the page's "Try a tool" panel ------------------------------------------------------------------------------
def test_try_a_tool_panel():
    from conftest import assert_ok, open_page

    at = open_page("app_pages/agents.py")
    assert_ok(at, "Agents")
    assert "5 km = 3.10686 mi" in "\n".join(e.value for e in at.success)  # the default example ran
    for tool, text, shown, ok in [("date", "2024-02-28 + 2 days", "2024-03-01 (Friday)", True),
                                  ("code", "x = [3, 1, 2]; print(sorted(x))", "[1, 2, 3]", True),
                                  ("code", "().__class__.__bases__", "attribute access", False),
                                  ("convert", "5 km to kg", "cannot convert", False),
                                  ("browse", "wiki.local/kv-cache", "512 KiB per token", True),
                                  ("browse", "http://wiki.local@evil.com/x", "evil.com is not reachable", False)]:
        at.selectbox(key="try_tool").set_value(tool).run()
        at.text_input(key="try_input").input(text).run()
        assert_ok(at, "Agents")
        messages = "\n".join(e.value for e in (at.success if ok else at.error)).replace("\\", "")
        assert shown in messages
    table = next(d.value for d in at.dataframe if "result" in d.value.columns)
    code_rows = table[table["action"].str.startswith("code[")]
    assert len(code_rows) == 4 and set(code_rows["result"]) == {"refused"}
