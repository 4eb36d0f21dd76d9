"""Wall 1 of the code tool (core.agents.code_tool): the allowlist, checked on the parse tree before anything runs.

`check_code` accepts only listed node types and names, and names the construct it refuses:
    check_code("import os") -> CodeError("import statements are not allowed ...")
Standard library only: the sandboxed child (core.agents.code_interpreter) imports it too.
"""
import ast
from dataclasses import dataclass


class CodeError(ValueError):
    """The code was refused before running, or failed while running; `kind` names the stage, as ToolError's.

    "input" (empty or too long), "syntax", "too complex" (too many nodes or too deep), "not allowed"
    (outside the allowlist), "timeout" (wall clock), "limit" (CPU, memory, loop or output cap, killed),
    "runtime" (a Python error in allowed code, e.g. ZeroDivisionError).
    """

    def __init__(self, message: str, kind: str = "not allowed") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class CodeLimits:
    max_chars: int = 2000  # run_tool's own input limit (300) is smaller: this one is for direct calls
    max_nodes: int = 400  # parse-tree nodes
    max_depth: int = 32  # nested brackets, counted before parsing
    max_iterations: int = 100_000  # all loop and comprehension iterations together
    max_output_chars: int = 2000  # printed text kept; printing stops the run past it
    cpu_seconds: int = 1  # RLIMIT_CPU (whole seconds): SIGXCPU, then SIGKILL one second later
    memory_mb: int = 256  # RLIMIT_AS: the child interpreter starts in about 20 MB of address space
    max_open_files: int = 8  # RLIMIT_NOFILE: stdin, stdout, stderr and a few spare
    wall_seconds: float = 3.0  # the parent kills the child after this (or the caller's earlier deadline)


# ---- wall 1: the allowlist ------------------------------------------------------------------------
SAFE_BUILTINS = ("len", "sum", "min", "max", "sorted", "range", "abs", "round", "str", "int", "float", "list",
                 "tuple", "dict", "set", "bool", "enumerate", "zip", "reversed", "print")
ALLOWED_NODES = (
    ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.Delete, ast.For, ast.If, ast.Break, ast.Continue,
    ast.Pass, ast.Name, ast.Load, ast.Store, ast.Del, ast.Constant, ast.BinOp, ast.UnaryOp, ast.BoolOp,
    ast.Compare, ast.IfExp, ast.Call, ast.keyword, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.Starred,
    ast.Subscript, ast.Slice, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension,
    ast.JoinedStr, ast.FormattedValue,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift, ast.BitOr,
    ast.BitXor, ast.BitAnd, ast.USub, ast.UAdd, ast.Not, ast.Invert, ast.And, ast.Or,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
)
# What a refusal calls each construct that people (or injected text) most often try, and why it is out.
CONSTRUCTS = {
    ast.Import: "import", ast.ImportFrom: "import",
    ast.Attribute: "attribute access (`x.y`)",
    ast.Lambda: "lambda", ast.FunctionDef: "def", ast.AsyncFunctionDef: "async def", ast.ClassDef: "class",
    ast.With: "with", ast.AsyncWith: "async with", ast.Try: "try", ast.TryStar: "try",
    ast.Global: "global", ast.Nonlocal: "nonlocal", ast.While: "while",
    ast.Raise: "raise", ast.Assert: "assert", ast.NamedExpr: "the := operator", ast.Await: "await",
    ast.Yield: "yield", ast.YieldFrom: "yield from", ast.Match: "match", ast.AsyncFor: "async for",
    ast.AnnAssign: "an annotated assignment", ast.MatMult: "the @ operator",
}
WHY = {
    ast.Attribute: "it is the usual road from any object to os, as in ().__class__.__base__",
    ast.Import: "imported modules reach files, processes and the network",
    ast.ImportFrom: "imported modules reach files, processes and the network",
    ast.While: "use for over range(...), whose iterations are counted",
}


def _depth(text: str) -> int:
    """How deep brackets nest: _depth("[(1), [2, [3]]]") -> 3."""
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth = max(depth - 1, 0)
    return deepest


def _refuse_node(node: ast.AST) -> None:
    """Raise CodeError if this one node is outside the allowlist; say which construct and where."""
    where = f" (line {node.lineno})" if hasattr(node, "lineno") else ""
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise CodeError(f"names starting with _ are not allowed, got {node.id[:40]!r}{where}: dunder names "
                            "such as __import__ and __builtins__ reach the interpreter's internals")
        if isinstance(node.ctx, (ast.Store, ast.Del)) and node.id in SAFE_BUILTINS:
            raise CodeError(f"assigning to the builtin {node.id!r} is not allowed{where}")
        return
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id.startswith("_"):
            return _refuse_node(node.func)
        if not isinstance(node.func, ast.Name) or node.func.id not in SAFE_BUILTINS:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)[:40]
            if isinstance(node.func, ast.Attribute):
                raise CodeError(f"attribute access (`{name}`) is not allowed{where}: {WHY[ast.Attribute]}; "
                                "use the builtins instead of methods")
            raise CodeError(f"calling {name!r} is not allowed{where}: the functions are {', '.join(SAFE_BUILTINS)}")
        if any(k.arg is None for k in node.keywords):
            raise CodeError(f"**keyword unpacking is not allowed{where}")
        return
    if not isinstance(node, ALLOWED_NODES):
        construct = CONSTRUCTS.get(type(node), f"the construct {type(node).__name__}")
        why = WHY.get(type(node), "the code tool runs a small subset of Python")
        raise CodeError(f"{construct} is not allowed{where}: {why}")


def check_code(code: str, limits: CodeLimits = CodeLimits()) -> ast.Module:
    """Parse and allowlist-check code; return the tree, or raise CodeError naming what is refused.

    check_code("print(1 + 1)") -> Module; check_code("().__class__") -> CodeError("attribute access ...").
    """
    if not isinstance(code, str):
        raise CodeError(f"the code tool takes text, got {type(code).__name__}", "input")
    if not code.strip():
        raise CodeError("the code tool needs some Python, e.g. code[print(sum(range(10)))]", "input")
    if len(code) > limits.max_chars:
        raise CodeError(f"the code is {len(code):,} characters; the limit is {limits.max_chars}", "input")
    if _depth(code) > limits.max_depth:
        raise CodeError(f"brackets nest {_depth(code)} deep; the limit is {limits.max_depth}", "too complex")
    try:
        tree = ast.parse(code.replace("\r\n", "\n"), mode="exec")
    except SyntaxError as err:
        raise CodeError(f"not valid Python ({err.msg}, line {err.lineno})", "syntax") from None
    except (ValueError, RecursionError, MemoryError) as err:  # a null byte; an over-long int literal
        raise CodeError(f"not valid Python ({type(err).__name__})", "syntax") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > limits.max_nodes:
        raise CodeError(f"the code has {len(nodes)} parts; the limit is {limits.max_nodes}", "too complex")
    for node in nodes:
        _refuse_node(node)
    assigned = {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    for node in nodes:
        if isinstance(node, ast.Name) and node.id not in assigned and node.id not in SAFE_BUILTINS:
            raise CodeError(f"unknown name {node.id[:40]!r} (line {node.lineno}): the names are those the code "
                            f"assigns and the builtins {', '.join(SAFE_BUILTINS)}")
    return tree
