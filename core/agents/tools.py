"""Tools an agent may call, built so that hostile input cannot hurt the machine.

An LLM agent (ReAct, Yao et al. 2022, https://arxiv.org/abs/2210.03629; Toolformer, Schick et al.
2023, https://arxiv.org/abs/2302.04761) writes `tool[input]` and the runtime runs the tool on that
text. The input comes from a model that anyone can steer (the user, or text the model just read),
so every tool treats its input as hostile:

- `calculator`: parses the text with `ast.parse(mode="eval")` and walks the tree itself, allowing
  only numbers, + - * / // % **, unary minus, parentheses and a few math functions. It never calls
  eval/exec, bounds the length, the number of nodes, every exponent and every intermediate number
  (a power is bounded from logarithms before it is computed), and turns every arithmetic error
  (division by zero, log of 0 or in base 1, overflow) into a ToolError.
- `search`: Okapi BM25 over the small local knowledge base in assets/kb/ (Robertson & Zaragoza,
  "The Probabilistic Relevance Framework: BM25 and Beyond", 2009), implemented here from the formula.
- `convert` (core.agents.units) and `date` (core.agents.dates): pure table and calendar look-ups that
  parse one fixed sentence shape ("5 km to mi", "2024-02-28 + 2 days") and refuse anything else.
- `code` (core.agents.code_tool): an allowlisted subset of Python, checked with `ast`, then run in a
  fresh interpreter under CPU, memory and file rlimits that the runtime kills at the deadline.
- `browse` (core.agents.browse): one page of the bundled offline mini-web (wiki.local) and its links; any
  other host, scheme or path is refused before anything is read, so a fooled agent cannot send data out.

Every call goes through `run_tool`, which adds a size limit on input and output and a time limit,
and turns every failure, even a tool's own bug, into an error Observation: it never raises.
The time limit is cooperative for the in-process tools (they check a deadline as they work, and are
bounded by construction); the code tool, which is not, runs in a separate process killed at the deadline.
"""
import ast
import math
import operator
import time
from dataclasses import dataclass

from core.agents import browse, code_tool, dates, units
from core.agents.search import (  # noqa: F401 -- the search tool; its names stay importable from here
    KB_DIR,
    STOPWORDS,
    BM25Index,
    KBEntry,
    SearchTool,
    bm25_idf,
    bm25_scores,
    build_bm25,
    format_hits,
    load_kb,
    tokenize,
)


class ToolError(ValueError):
    """A tool refused its input or failed; the message becomes the agent's Observation.

    `kind` names the stage that stopped it, so a test (or a curious learner) can check that hostile
    input was stopped early: "input" (empty or too long: refused before parsing), "syntax", "too complex"
    (too many parse-tree nodes), "not allowed" (outside the whitelist), "too large" (a number or a power
    over the limits, refused before it is computed), "undefined" (division by zero, log of 0, ...),
    "timeout", or "refused" (the other refusals: an unknown tool, a search with no content word).
    """

    def __init__(self, message: str, kind: str = "refused") -> None:
        super().__init__(message)
        self.kind = kind


class ToolTimeout(ToolError):
    """A tool ran past its deadline."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "timeout")


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.perf_counter() > deadline:
        raise ToolTimeout("the tool ran out of time and was stopped")


# ---- calculator: a whitelist walk over Python's own parse tree -----------------------------------
@dataclass(frozen=True)
class CalcLimits:
    max_chars: int = 200  # longer text is refused before parsing
    max_nodes: int = 100  # parse-tree nodes
    max_depth: int = 32  # nested parentheses: counted before parsing (Python's parser recurses on them)
    max_exponent: float = 1000  # |b| in a ** b
    max_magnitude: float = 1e100  # |x| of every literal and intermediate result
    max_round_digits: int = 15


FUNCTIONS = {
    "sqrt": math.sqrt, "log": math.log, "log2": math.log2, "log10": math.log10, "exp": math.exp,
    "round": round, "min": min, "max": max, "abs": abs,
}
CONSTANTS = {"pi": math.pi, "e": math.e}
BINARY_OPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
UNARY_OPS = {ast.USub: operator.neg, ast.UAdd: operator.pos}

# Clear words for what people (or injected text) most often try, instead of a bare node name.
_REFUSALS = {
    ast.Attribute: "attribute access (`x.y`) is not allowed: the calculator only does arithmetic",
    ast.Subscript: "indexing (`x[i]`) is not allowed: the calculator only does arithmetic",
    ast.Lambda: "lambda functions are not allowed",
    ast.Tuple: "a comma makes a tuple: write 1000, not 1,000 (or min(a, b) for several numbers)",
    ast.List: "lists are not allowed", ast.Dict: "dicts are not allowed", ast.Set: "sets are not allowed",
    ast.Compare: "comparisons are not allowed", ast.BoolOp: "and/or are not allowed",
    ast.IfExp: "if/else is not allowed", ast.NamedExpr: "assignment (:=) is not allowed",
    ast.JoinedStr: "strings are not allowed", ast.ListComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed", ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
}


def _number(value, limits: CalcLimits):
    """Check that an intermediate result is a finite number within the magnitude bound."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ToolError(f"only numbers are allowed, got {type(value).__name__}", "not allowed")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("the result is not a finite number", "too large")
    if abs(value) > limits.max_magnitude:
        raise ToolError(f"a number exceeds the magnitude limit of {limits.max_magnitude:.0e}", "too large")
    return value


def _power(base, exponent, limits: CalcLimits):
    """base ** exponent, refused before computing if the exponent or the result would be too big.

    |base ** exponent| = 10 ** (exponent · log10|base|), so comparing that logarithm with the limit's
    bounds the result whatever the signs: 10 ** 101 and 0.1 ** -101 (= 1e101) are both refused uncomputed.
    """
    if abs(exponent) > limits.max_exponent:
        raise ToolError(f"exponent {exponent:,} is too large (limit ±{limits.max_exponent:,.0f})", "too large")
    if base == 0:
        if exponent < 0:
            raise ToolError("division by zero (0 to a negative power)", "undefined")
    else:
        digits = exponent * math.log10(abs(base))  # log10 of the result's magnitude
        if digits > math.log10(limits.max_magnitude):
            shown = f"({format_number(base)})" if base < 0 else format_number(base)
            raise ToolError(f"{shown} ** {format_number(exponent)} would be about 10^{digits:,.0f}: "
                            f"it would exceed the magnitude limit of {limits.max_magnitude:.0e}", "too large")
    if base < 0 and exponent != int(exponent):
        raise ToolError("a negative number to a fractional power is not a real number", "undefined")
    return BINARY_OPS[ast.Pow](base, exponent)  # through the table, like every other operator


# Why a math function refused its argument, in words (Python only says "math domain error").
_DOMAINS = {"sqrt": "sqrt needs a number ≥ 0", "log": "log needs a positive number",
            "log2": "log2 needs a positive number", "log10": "log10 needs a positive number"}


def _apply(node: ast.AST, fn, *args):
    """Run one arithmetic step; every arithmetic failure becomes a ToolError naming the part that failed:
    _apply(<the node of log(0)>, math.log, 0) -> ToolError("log(0): math domain error (log needs a positive number)")."""
    try:
        return fn(*args)
    except ToolError:
        raise
    except ZeroDivisionError:
        raise ToolError(f"{ast.unparse(node)[:60]}: division by zero", "undefined") from None
    except TypeError as err:  # a function called with the wrong number of arguments
        raise ToolError(f"{ast.unparse(node)[:60]}: {err}", "not allowed") from None
    except (ArithmeticError, ValueError) as err:  # OverflowError, math domain errors
        name = node.func.id if isinstance(node, ast.Call) else ""
        hint = f" ({_DOMAINS[name]})" if name in _DOMAINS and "domain" in str(err) else ""
        raise ToolError(f"{ast.unparse(node)[:60]}: {err}{hint}", "undefined") from None


def _eval_node(node: ast.AST, limits: CalcLimits, deadline: float | None):
    """Evaluate one whitelisted node; anything else raises ToolError with a reason."""
    _check_deadline(deadline)
    if isinstance(node, ast.Expression):
        return _eval_node(node.body, limits, deadline)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ToolError(f"only numbers are allowed, got the {type(node.value).__name__} {node.value!r:.40}",
                            "not allowed")
        return _number(node.value, limits)
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise ToolError(f"unknown name {node.id[:40]!r}: only the constants {', '.join(CONSTANTS)} are defined",
                        "not allowed")
    if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY_OPS:
        operand = _eval_node(node.operand, limits, deadline)
        return _number(_apply(node, UNARY_OPS[type(node.op)], operand), limits)
    if isinstance(node, ast.BinOp):
        if type(node.op) not in BINARY_OPS:
            hint = " (`^` is XOR in Python: write ** for powers)" if isinstance(node.op, ast.BitXor) else ""
            raise ToolError(f"the operator {type(node.op).__name__} is not allowed{hint}", "not allowed")
        left = _eval_node(node.left, limits, deadline)
        right = _eval_node(node.right, limits, deadline)
        if isinstance(node.op, ast.Pow):
            return _number(_apply(node, _power, left, right, limits), limits)
        return _number(_apply(node, BINARY_OPS[type(node.op)], left, right), limits)
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)[:60]
            raise ToolError(f"calling `{name}` is not allowed: the only functions are {', '.join(FUNCTIONS)}",
                            "not allowed")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise ToolError("only plain positional arguments are allowed", "not allowed")
        name = node.func.id
        args = [_eval_node(a, limits, deadline) for a in node.args]
        if name == "round":
            if len(args) == 2 and (not isinstance(args[1], int) or abs(args[1]) > limits.max_round_digits):
                raise ToolError(f"round's digits must be a whole number within ±{limits.max_round_digits}",
                                "not allowed")
        if name in ("min", "max") and not 1 <= len(args) <= 20:
            raise ToolError(f"{name} takes 1 to 20 numbers", "not allowed")
        if name == "log" and len(args) == 2 and (args[1] <= 0 or args[1] == 1):
            # math.log(x, b) = ln x / ln b: base 1 divides by ln 1 = 0, and a base ≤ 0 has no logarithm
            raise ToolError(f"log's base must be positive and not 1, got {format_number(args[1])}", "undefined")
        return _number(_apply(node, FUNCTIONS[name], *args), limits)
    reason = _REFUSALS.get(type(node), f"{type(node).__name__} is not allowed: the calculator only does arithmetic")
    raise ToolError(reason, "not allowed")


def _paren_depth(text: str) -> int:
    """How deep brackets of any kind nest, in one pass: _paren_depth("((1) + [2])") -> 2."""
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth = max(depth - 1, 0)  # a stray closer must not buy extra depth for the openers after it
    return deepest


def safe_eval(expression: str, limits: CalcLimits = CalcLimits(), deadline: float | None = None):
    """Evaluate arithmetic text without eval: safe_eval("2 * (3 + 4)") -> 14; safe_eval("().__class__") -> ToolError.

    The checks run cheapest first, and each bounds the next: the length and the nesting depth bound the
    parse, the node count bounds the walk, and the walk refuses any number or power over the limits
    before computing it.
    """
    if not isinstance(expression, str):
        raise ToolError(f"the calculator takes text, got {type(expression).__name__}", "input")
    text = expression.strip()
    if not text:
        raise ToolError("the calculator needs an expression, e.g. calculator[2 * (3 + 4)]", "input")
    if len(text) > limits.max_chars:
        raise ToolError(f"the expression is {len(text):,} characters; the limit is {limits.max_chars}", "input")
    depth = _paren_depth(text)
    if depth > limits.max_depth:
        raise ToolError(f"the parentheses nest {depth} deep; the limit is {limits.max_depth}", "too complex")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        raise ToolError(f"not a valid arithmetic expression ({err.msg})", "syntax") from None
    except ValueError as err:  # a literal over Python's int-string digit limit; a null byte (Python 3.11)
        raise ToolError(f"not a valid arithmetic expression ({err})", "syntax") from None
    except (RecursionError, MemoryError):  # nesting deeper than the parser's own stack
        raise ToolError("not a valid arithmetic expression (nested too deeply)", "syntax") from None
    n_nodes = sum(1 for _ in ast.walk(tree))
    if n_nodes > limits.max_nodes:
        raise ToolError(f"the expression has {n_nodes} parts; the limit is {limits.max_nodes}", "too complex")
    try:
        return _eval_node(tree, limits, deadline)
    except RecursionError:  # only reachable with a max_nodes near Python's recursion limit
        raise ToolError("the expression is nested too deeply", "too complex") from None


def format_number(value) -> str:
    """A readable number: 14 -> '14'; 1822916666.6666667 -> '1822916666.67'; 1e-20 -> '1e-20'."""
    return str(value) if isinstance(value, int) else f"{value:.12g}"


# ---- the tool runtime: one entry point with limits -----------------------------------------------
@dataclass(frozen=True)
class ToolLimits:
    timeout_s: float = 1.0
    max_input_chars: int = 300
    max_output_chars: int = 1500
    top_k: int = 3


@dataclass(frozen=True)
class ToolResult:
    ok: bool
    text: str  # what the agent reads as its Observation
    seconds: float
    scores: tuple[tuple[str, float], ...] = ()  # search only: (title, BM25) of the top 10, for charts


TOOL_DESCRIPTIONS = {
    "search": "BM25 keyword search over the local knowledge base; returns the top entries",
    "calculator": "safe arithmetic: + - * / // % **, parentheses, sqrt log log2 log10 exp round min max abs, pi, e",
    "convert": "unit conversion of length, mass, time, temperature, data size: 5 km to mi, 100 C to F",
    "date": "date arithmetic: 2024-02-28 + 2 days, days between 2024-01-01 and 2024-12-25, weekday of 2024-07-04",
    "code": "a small subset of Python run in a limited process: numbers, strings, lists, for, if, print; no "
            "imports or attributes; ; separates statements: x = [3, 1, 2]; print(sorted(x))",
    "browse": "read one page of the offline wiki (wiki.local) and its numbered links: browse[wiki.local/index]",
    "finish": "give the final answer and stop",
}


RUNNABLE_TOOLS = tuple(name for name in TOOL_DESCRIPTIONS if name != "finish")  # finish is the loop's, not a tool

# The newer tools live in their own modules with their own error class (a message and a kind, like ToolError),
# so that the code tool's child process needs nothing from here; their refusals read like any other.
NEWER_TOOL_ERRORS = (code_tool.CodeError, units.UnitError, dates.DateError, browse.BrowseError)


def run_tool(name: str, tool_input: str, search_tool: SearchTool, limits: ToolLimits = ToolLimits()) -> ToolResult:
    """Run one tool on untrusted text; errors come back as an Observation (ok=False), never raised.

    Every exception is caught, not only ToolError: the agent loop (and the page) must survive a tool's
    bug too, and the agent learns from the error text like from any other Observation.
    """
    start = time.perf_counter()
    deadline = start + limits.timeout_s
    scores: tuple = ()
    try:
        if name not in RUNNABLE_TOOLS:
            raise ToolError(f"unknown tool {str(name)[:40]!r}; the tools are {', '.join(TOOL_DESCRIPTIONS)}")
        if not isinstance(tool_input, str):
            raise ToolError(f"the input must be text, got {type(tool_input).__name__}", "input")
        if len(tool_input) > limits.max_input_chars:
            raise ToolError(f"the input is {len(tool_input):,} characters; the limit is {limits.max_input_chars}",
                            "input")
        ok = True
        if name == "calculator":
            text = format_number(safe_eval(tool_input, deadline=deadline))
        elif name == "convert":
            text = units.convert(tool_input)
        elif name == "date":
            text = dates.date_tool(tool_input)
        elif name == "browse":
            text = browse.browse(tool_input)
        elif name == "code":
            result = code_tool.run_code(tool_input, deadline=deadline)
            text = result.text() if result.ok else f"Error: {result.error}."
            ok = result.ok
        else:
            ranked = search_tool.ranked(tool_input, deadline=deadline)
            text = format_hits(ranked, limits.top_k)
            scores = tuple((e.title, round(s, 4)) for e, s in ranked[:10])
    except (ToolError, *NEWER_TOOL_ERRORS) as err:
        text, ok = f"Error: {err}.", False
    except Exception as err:  # noqa: BLE001 -- a tool's own bug must still end as an Observation
        text, ok = f"Error: the {str(name)[:40]} tool failed unexpectedly ({type(err).__name__}).", False
    seconds = time.perf_counter() - start
    if ok and seconds > limits.timeout_s:
        text, ok = f"Error: the tool took {seconds:.3f} s, over the {limits.timeout_s} s limit.", False
    if len(text) > limits.max_output_chars:
        cut = len(text) - limits.max_output_chars
        text = text[: limits.max_output_chars] + f" … [truncated: {cut:,} more characters]"
    return ToolResult(ok, text, seconds, scores)


if __name__ == "__main__":
    tool = SearchTool.from_kb()
    print(f"knowledge base: {len(tool.entries)} entries, {len(tool.index.doc_freqs)} distinct terms")
    for expr in ["2 * (3 + 4)", "sqrt(144) + 17 * 23", "175e9 / 96", "2**10**10", "0.1 ** -1000", "log(5, 1)",
                 "__import__('os').system('rm -rf /')", "().__class__.__bases__", "9" * 10000]:
        print(f"calculator[{expr[:40]}] -> {run_tool('calculator', expr, tool).text}")
    for name, text in [("convert", "5 km to mi"), ("date", "2024-02-28 + 2 days"), ("code", "import os"),
                       ("code", "x = [3, 1, 2]; print(sorted(x), sum(x))")]:
        print(f"{name}[{text}] -> {run_tool(name, text, tool).text}")
    print("search[GPT-3 parameters layers] ->")
    print(run_tool("search", "GPT-3 parameters layers", tool).text)
