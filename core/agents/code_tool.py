"""A code tool: a small, allowlisted subset of Python, run in a separate process under resource limits.

Agents that write code (a "code interpreter") are powerful because the model can compute anything,
and dangerous for the same reason: the code comes from a model that anyone can steer. Real agent
runtimes therefore stack independent walls, each assuming the one before it has failed
(defence in depth):

1. **An allowlist** (this module's `check_code`): `ast.parse` the text and accept only listed node
   types: literals, arithmetic, comparisons, and/or, names assigned in the snippet, lists, tuples,
   dicts, sets, strings, subscripts and slices, if, `for` loops and comprehensions (each iteration
   counted against a cap), and calls to a few safe builtins (len, sum, min, max, sorted, range, abs,
   round, str, int, float, list, ...) with print captured. No imports, no attribute access (`x.y` is
   how Python code climbs from any object to `os`: `().__class__.__base__.__subclasses__()`), no
   names starting with `_` (so no dunders), no lambda/def/class/with/try/while/global. A refusal names
   the construct. Code only ever runs after this check, and never through Python's eval or exec
   (LLM Lab's rule: none anywhere): `_Interpreter` walks the checked tree node by node, with one method
   per allowed node type, so a construct without a method cannot run even if the check had missed it.
   It looks names up in its own dicts, calls only the SAFE_BUILTINS table, captures print, counts every
   loop and comprehension iteration against a cap, and refuses an int power or shift whose result could
   not fit in the memory limit before computing it (`10**10**10`; the calculator's idea in tools._power).
2. **Process limits** (`run_code`): the interpreter runs in a fresh Python process
   (`python -I -S core/agents/code_tool.py --run`, code on stdin: no site-packages, no environment,
   and never a fork of the Streamlit server with its models and sessions), which first lowers its
   own rlimits: CPU seconds (RLIMIT_CPU), address space (RLIMIT_AS), open files (RLIMIT_NOFILE),
   file size (RLIMIT_FSIZE), core dumps (RLIMIT_CORE) and processes (RLIMIT_NPROC), then checks the
   code again and interprets it. The parent kills it at a wall-clock deadline and caps its output. The
   allowlist bounds *what* code may do, not *how much*: `[0] * 10**9` and `sum(range(10**12))` (a loop
   inside a builtin, which the iteration cap does not see) are allowed, and only these limits stop them.
3. **A container or VM** (not here): production code interpreters run each session in a throwaway
   container or micro-VM (gVisor, Firecracker) with no network and a read-only filesystem, because a
   bug in the interpreter itself (CPython has had crashers reachable from plain code) would get
   past both walls above. LLM Lab runs on a laptop or a small server, so it has the first two.

    run_code("x = [3, 1, 2]\\nprint(sorted(x))")  -> CodeResult(ok=True, output="[1, 2, 3]\\n", ...)
    run_code("sum(range(10))")                   -> CodeResult(ok=True, value="45", ...)
    check_code("import os")                       -> CodeError("import statements are not allowed ...")

The child's side (the check, the interpreter, the rlimits) is all in this file and uses only the
standard library, so it starts in about 20 ms without importing torch, Streamlit or anything from
core; rlimits come from `resource`, so this runs on Linux and macOS, not Windows.
"""
import ast
import dataclasses
import json
import math
import operator
import subprocess
import sys
import time
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


@dataclass(frozen=True)
class CodeResult:
    ok: bool
    output: str  # what the code printed (capped)
    value: str  # repr of the last line when it is an expression (a REPL's echo), else ""
    error: str  # why it failed, "" when ok
    kind: str  # "" when ok, else a CodeError kind
    seconds: float  # wall time, process start to end

    def text(self) -> str:
        """The Observation: printed output, then the value; the error when it failed."""
        if not self.ok:
            return self.error
        shown = self.output + (self.value if self.value else "")
        return shown.rstrip("\n") or "(the code ran and printed nothing)"


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


def _set_rlimits(limits: CodeLimits) -> None:
    import resource

    for limit, value in [(resource.RLIMIT_CPU, limits.cpu_seconds),
                         (resource.RLIMIT_AS, limits.memory_mb * 2**20),
                         (resource.RLIMIT_NOFILE, limits.max_open_files),
                         (resource.RLIMIT_FSIZE, 0),
                         (resource.RLIMIT_CORE, 0),
                         (resource.RLIMIT_NPROC, 0)]:
        _, hard = resource.getrlimit(limit)
        # Lowering is always allowed; the hard CPU limit one second later turns SIGXCPU into SIGKILL.
        new_hard = value + 1 if limit == resource.RLIMIT_CPU else value
        new_hard = new_hard if hard == resource.RLIM_INFINITY else min(new_hard, hard)
        resource.setrlimit(limit, (min(value, new_hard), new_hard))


# ---- inside the child: a tree-walking interpreter over the checked tree -------------------------------
class _Stop(Exception):
    """A limit inside the child: the loop cap, the output cap, or a power too big for the memory limit."""


class _Break(Exception):
    """`break`: unwinds to the innermost for loop."""


class _Continue(Exception):
    """`continue`: unwinds to the innermost for loop."""


BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
          ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.BitOr: operator.or_,
          ast.BitXor: operator.xor, ast.BitAnd: operator.and_}
IN_PLACE = {ast.Add: operator.iadd, ast.Sub: operator.isub, ast.Mult: operator.imul, ast.Div: operator.itruediv,
            ast.FloorDiv: operator.ifloordiv, ast.Mod: operator.imod, ast.Pow: operator.ipow,
            ast.LShift: operator.ilshift, ast.RShift: operator.irshift, ast.BitOr: operator.ior,
            ast.BitXor: operator.ixor, ast.BitAnd: operator.iand}  # `xs += [1]` extends xs in place, as in Python
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_, ast.Invert: operator.invert}
COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
           ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}


class _Interpreter:
    """Walk a tree that check_code accepted, node by node: the only way agent code runs (no exec, no eval).

    Each node type has a method; a type without one cannot run, so the interpreter is a second allowlist.
    Names live in `scope`, a tuple of dicts searched innermost first: (globals,) at the top level, with one
    more dict in front inside a comprehension (whose variables stay local, as in Python 3). Calls go only to
    the SAFE_BUILTINS table, print is captured, and every loop or comprehension iteration is counted.
    """

    def __init__(self, limits: CodeLimits, printed: list[str]) -> None:
        import builtins

        self.limits, self.printed = limits, printed
        self.iterations = self.chars = 0
        self.line = None  # the line of the innermost node that raised, for the error message
        self.builtins = {name: getattr(builtins, name) for name in SAFE_BUILTINS}
        self.builtins["print"] = self._print
        self.globals: dict = {}
        self.statements = {ast.Expr: self._expr_stmt, ast.Assign: self._assign_stmt, ast.AugAssign: self._aug_assign,
                           ast.Delete: self._delete, ast.For: self._for, ast.If: self._if, ast.Pass: self._pass,
                           ast.Break: self._break, ast.Continue: self._continue}
        self.expressions = {ast.Constant: self._constant, ast.Name: self._name, ast.BinOp: self._binop,
                            ast.UnaryOp: self._unaryop, ast.BoolOp: self._boolop, ast.Compare: self._compare,
                            ast.IfExp: self._ifexp, ast.Call: self._call, ast.List: self._list,
                            ast.Tuple: self._tuple, ast.Set: self._set, ast.Dict: self._dict,
                            ast.Subscript: self._subscript, ast.Slice: self._slice, ast.ListComp: self._listcomp,
                            ast.SetComp: self._setcomp, ast.DictComp: self._dictcomp,
                            ast.GeneratorExp: self._genexp, ast.JoinedStr: self._joinedstr,
                            ast.FormattedValue: self._formatted}

    # -- limits ---------------------------------------------------------------------------------------------
    def _counted(self, iterable):
        for item in iterable:
            self.iterations += 1
            if self.iterations > self.limits.max_iterations:
                raise _Stop(f"loop limit: more than {self.limits.max_iterations:,} iterations")
            yield item

    def _print(self, *args, sep=" ", end="\n"):
        self.printed.append(str(sep).join(str(a) for a in args) + str(end))
        self.chars += len(self.printed[-1])
        if self.chars > self.limits.max_output_chars:
            raise _Stop(f"output limit: more than {self.limits.max_output_chars:,} characters printed")

    def _check_size(self, op: type, left, right) -> None:
        """Refuse an int power or left shift whose result could not fit in the memory limit, before computing it
        (the calculator's idea in core.agents.tools._power: the size of base ** exponent is known from logarithms).
        """
        if type(left) is not int or type(right) is not int or right <= 0:
            return
        if op is ast.Pow and abs(left) > 1:
            bits = right * math.log2(abs(left))
        elif op is ast.LShift and left:
            bits = left.bit_length() + right
        else:
            return
        if bits > self.limits.memory_mb * 2**23:  # megabytes of address space, in bits
            raise _Stop(f"memory limit: the result would have about {bits * math.log10(2):,.0f} digits, more than "
                        f"{self.limits.memory_mb} MB can hold")

    # -- running --------------------------------------------------------------------------------------------
    def run(self, body: list) -> None:
        scope = (self.globals,)
        for statement in body:
            self.execute(statement, scope)

    def _refuse(self, node: ast.AST, scope: tuple = ()):
        """A node with no method: check_code refused it already, and the interpreter refuses it again."""
        raise CodeError(f"{CONSTRUCTS.get(type(node), type(node).__name__)} is not allowed "
                        f"(line {getattr(node, 'lineno', '?')}): the code tool runs a small subset of Python")

    def execute(self, node: ast.stmt, scope: tuple) -> None:
        try:
            self.statements.get(type(node), self._refuse)(node, scope)
        except (_Break, _Continue):
            raise
        except Exception:
            if self.line is None:
                self.line = node.lineno
            raise

    def evaluate(self, node: ast.expr, scope: tuple):
        try:
            return self.expressions.get(type(node), self._refuse)(node, scope)
        except Exception:
            if self.line is None:
                self.line = getattr(node, "lineno", None)
            raise

    def _block(self, body: list, scope: tuple) -> None:
        for statement in body:
            self.execute(statement, scope)

    # -- statements -----------------------------------------------------------------------------------------
    def _expr_stmt(self, node, scope):
        self.evaluate(node.value, scope)

    def _assign_stmt(self, node, scope):
        value = self.evaluate(node.value, scope)
        for target in node.targets:  # a = b = value: left to right, as Python does
            self._store(target, value, scope)

    def _store(self, target, value, scope):
        kind = type(target)
        if kind is ast.Name:
            scope[0][target.id] = value
        elif kind is ast.Subscript:
            container = self.evaluate(target.value, scope)
            container[self.evaluate(target.slice, scope)] = value
        elif kind in (ast.Tuple, ast.List):
            self._unpack(target.elts, value, scope)
        else:
            raise CodeError(f"cannot assign to {type(target).__name__} (line {target.lineno})")

    def _unpack(self, targets, value, scope):
        stars = [i for i, t in enumerate(targets) if isinstance(t, ast.Starred)]
        if not stars:
            items, iterator = [], iter(value)
            for item in iterator:
                if len(items) == len(targets):
                    raise ValueError(f"too many values to unpack (expected {len(targets)})")
                items.append(item)
            if len(items) < len(targets):
                raise ValueError(f"not enough values to unpack (expected {len(targets)}, got {len(items)})")
        else:
            star, values = stars[0], list(value)
            after = len(targets) - star - 1
            if len(values) < len(targets) - 1:
                raise ValueError(f"not enough values to unpack (expected at least {len(targets) - 1}, "
                                 f"got {len(values)})")
            items = values[:star] + [values[star:len(values) - after]] + values[len(values) - after:]
            targets = [*targets[:star], targets[star].value, *targets[star + 1:]]
        for target, item in zip(targets, items):
            self._store(target, item, scope)

    def _aug_assign(self, node, scope):
        target, op = node.target, type(node.op)
        if isinstance(target, ast.Name):
            current = self._name(target, scope)
            value = self.evaluate(node.value, scope)
            self._check_size(op, current, value)
            scope[0][target.id] = IN_PLACE[op](current, value)
        elif isinstance(target, ast.Subscript):
            container = self.evaluate(target.value, scope)
            key = self.evaluate(target.slice, scope)
            current = container[key]
            value = self.evaluate(node.value, scope)
            self._check_size(op, current, value)
            container[key] = IN_PLACE[op](current, value)
        else:
            raise CodeError(f"cannot assign to {type(target).__name__} (line {target.lineno})")

    def _delete(self, node, scope):
        for target in node.targets:
            self._delete_target(target, scope)

    def _delete_target(self, target, scope):
        if isinstance(target, ast.Name):
            if target.id not in scope[0]:
                raise NameError(f"name {target.id!r} is not defined")
            del scope[0][target.id]
        elif isinstance(target, ast.Subscript):
            container = self.evaluate(target.value, scope)
            del container[self.evaluate(target.slice, scope)]
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._delete_target(element, scope)
        else:
            raise CodeError(f"cannot delete {type(target).__name__} (line {target.lineno})")

    def _for(self, node, scope):
        for item in self._counted(self.evaluate(node.iter, scope)):
            self._store(node.target, item, scope)
            try:
                self._block(node.body, scope)
            except _Break:
                return
            except _Continue:
                continue
        self._block(node.orelse, scope)  # for ... else: runs when the loop was not broken

    def _if(self, node, scope):
        self._block(node.body if self.evaluate(node.test, scope) else node.orelse, scope)

    def _pass(self, node, scope):
        pass

    def _break(self, node, scope):
        raise _Break

    def _continue(self, node, scope):
        raise _Continue

    # -- expressions ----------------------------------------------------------------------------------------
    def _constant(self, node, scope):
        return node.value

    def _name(self, node, scope):
        for names in scope:
            if node.id in names:
                return names[node.id]
        if node.id in self.builtins:
            return self.builtins[node.id]
        raise NameError(f"name {node.id!r} is not defined")

    def _binop(self, node, scope):
        left = self.evaluate(node.left, scope)
        right = self.evaluate(node.right, scope)
        self._check_size(type(node.op), left, right)
        return BINARY[type(node.op)](left, right)

    def _unaryop(self, node, scope):
        return UNARY[type(node.op)](self.evaluate(node.operand, scope))

    def _boolop(self, node, scope):
        is_and = isinstance(node.op, ast.And)
        for value_node in node.values:
            value = self.evaluate(value_node, scope)
            if bool(value) != is_and:  # and stops at the first falsy value, or at the first truthy one
                return value
        return value

    def _compare(self, node, scope):
        left = self.evaluate(node.left, scope)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.evaluate(right_node, scope)
            result = COMPARE[type(op)](left, right)
            if not result:
                return result
            left = right
        return result

    def _ifexp(self, node, scope):
        return self.evaluate(node.body if self.evaluate(node.test, scope) else node.orelse, scope)

    def _elements(self, nodes, scope) -> list:
        values = []
        for element in nodes:
            if isinstance(element, ast.Starred):
                values.extend(self.evaluate(element.value, scope))
            else:
                values.append(self.evaluate(element, scope))
        return values

    def _call(self, node, scope):
        if not isinstance(node.func, ast.Name) or node.func.id not in self.builtins:  # check_code refused it
            raise CodeError(f"calling {ast.unparse(node.func)[:40]!r} is not allowed (line {node.lineno})")
        function = self.builtins[node.func.id]
        args = self._elements(node.args, scope)
        kwargs = {}
        for keyword in node.keywords:
            if keyword.arg is None:  # check_code refused it
                raise CodeError(f"**keyword unpacking is not allowed (line {node.lineno})")
            kwargs[keyword.arg] = self.evaluate(keyword.value, scope)
        return function(*args, **kwargs)

    def _list(self, node, scope):
        return self._elements(node.elts, scope)

    def _tuple(self, node, scope):
        return tuple(self._elements(node.elts, scope))

    def _set(self, node, scope):
        return set(self._elements(node.elts, scope))

    def _dict(self, node, scope):
        result = {}
        for key, value_node in zip(node.keys, node.values):
            value = self.evaluate(value_node, scope)
            if key is None:  # {**other}
                if not isinstance(value, dict):
                    raise TypeError(f"{type(value).__name__!r} object is not a mapping")
                result.update(value)
            else:
                result[self.evaluate(key, scope)] = value
        return result

    def _subscript(self, node, scope):
        container = self.evaluate(node.value, scope)
        return container[self.evaluate(node.slice, scope)]

    def _slice(self, node, scope):
        parts = (node.lower, node.upper, node.step)
        return slice(*(None if part is None else self.evaluate(part, scope) for part in parts))

    def _comprehension(self, generators, scope):
        """Yield the comprehension's scope once per combination its for/if clauses accept.

        The first iterable is evaluated in the enclosing scope, the rest in the comprehension's own, as in Python.
        """
        first = self.evaluate(generators[0].iter, scope)
        inner = ({}, *scope)

        def walk(level, iterable):
            clause = generators[level]
            for item in self._counted(iterable):
                self._store(clause.target, item, inner)
                if all(self.evaluate(test, inner) for test in clause.ifs):
                    if level + 1 == len(generators):
                        yield inner
                    else:
                        yield from walk(level + 1, self.evaluate(generators[level + 1].iter, inner))

        return walk(0, first)

    def _listcomp(self, node, scope):
        return [self.evaluate(node.elt, inner) for inner in self._comprehension(node.generators, scope)]

    def _setcomp(self, node, scope):
        return {self.evaluate(node.elt, inner) for inner in self._comprehension(node.generators, scope)}

    def _dictcomp(self, node, scope):
        result = {}
        for inner in self._comprehension(node.generators, scope):
            key = self.evaluate(node.key, inner)
            result[key] = self.evaluate(node.value, inner)
        return result

    def _genexp(self, node, scope):
        return (self.evaluate(node.elt, inner) for inner in self._comprehension(node.generators, scope))

    def _joinedstr(self, node, scope):
        return "".join(str(self.evaluate(part, scope)) for part in node.values)

    def _formatted(self, node, scope):
        value = self.evaluate(node.value, scope)
        if node.conversion in (115, 114, 97):  # !s, !r, !a
            value = {115: str, 114: repr, 97: ascii}[node.conversion](value)
        spec = "" if node.format_spec is None else self.evaluate(node.format_spec, scope)
        return format(value, spec)


def run_checked(code: str, limits: CodeLimits) -> dict:
    """In the child: check again (the child trusts nobody), then interpret the checked tree; returns a dict."""
    printed: list[str] = []
    interpreter = _Interpreter(limits, printed)
    try:
        tree = check_code(code, limits)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        interpreter.run(tree.body)
        value = ""
        if last is not None:
            result = interpreter.evaluate(last.value, (interpreter.globals,))
            value = "" if result is None else repr(result)[: limits.max_output_chars]
        return {"ok": True, "output": "".join(printed)[: limits.max_output_chars], "value": value}
    except CodeError as err:
        return {"ok": False, "error": str(err), "kind": err.kind}
    except _Stop as err:
        shown = "".join(printed)[: limits.max_output_chars]
        return {"ok": False, "error": f"stopped at the {err}" + (f"; printed before: {shown[:200]!r}" if shown
                                                                   else ""), "kind": "limit"}
    except MemoryError:
        return {"ok": False, "error": f"stopped at the memory limit ({limits.memory_mb} MB of address space)",
                "kind": "limit"}
    except (_Break, _Continue):  # check_code's parse refuses break/continue outside a loop; never reached
        return {"ok": False, "error": "break or continue outside a loop", "kind": "runtime"}
    except RecursionError:
        return {"ok": False, "error": "the code nests too deeply to run", "kind": "too complex"}
    except Exception as err:  # noqa: BLE001 -- a Python error in allowed code is the agent's Observation
        line = f" (line {interpreter.line})" if interpreter.line else ""
        return {"ok": False, "error": f"{type(err).__name__}: {str(err)[:200]}{line}", "kind": "runtime"}


def _child_main(argv: list[str]) -> None:
    """`python -I -S code_tool.py --run <limits as JSON>`: lower rlimits, read code on stdin, write JSON."""
    limits = CodeLimits(**json.loads(argv[argv.index("--run") + 1]))
    _set_rlimits(limits)
    code = sys.stdin.buffer.read(limits.max_chars * 4 + 1).decode("utf-8", errors="replace")
    result = run_checked(code, limits)
    sys.stdout.buffer.write(json.dumps(result).encode("ascii"))


# ---- wall 2, the parent's side: spawn, deadline, read the verdict ----------------------------------
def run_code(code: str, limits: CodeLimits = CodeLimits(), deadline: float | None = None) -> CodeResult:
    """Check code, then run it in a fresh interpreter under rlimits; never raises for what the code does.

    Raises CodeError only when the code is refused before running (so the caller can tell refusals from
    runs). Everything after the spawn (a Python error, a limit, a kill) comes back as CodeResult(ok=False).
    `deadline` is a time.perf_counter() value, as for the other tools.
    """
    check_code(code, limits)  # refuse early, in the parent, without spawning anything
    start = time.perf_counter()
    budget = limits.wall_seconds if deadline is None else min(limits.wall_seconds, deadline - start)
    if budget <= 0:
        raise CodeError("the tool ran out of time and was stopped", "timeout")
    args = [sys.executable, "-I", "-S", __file__, "--run", json.dumps(dataclasses.asdict(limits))]
    # No preexec_fn: it is unsafe in a threaded server such as Streamlit, so the child limits itself first.
    try:
        done = subprocess.run(args, input=code.encode("utf-8"), capture_output=True, timeout=budget, env={},
                              cwd="/", close_fds=True, check=False)
    except subprocess.TimeoutExpired:  # subprocess.run has killed the child (SIGKILL) and reaped it
        seconds = time.perf_counter() - start
        return CodeResult(False, "", "", f"killed at the wall-clock limit after {seconds:.2f} s", "timeout",
                          seconds)
    seconds = time.perf_counter() - start
    if done.returncode < 0:
        signal = -done.returncode
        why = {24: "the CPU time limit", 9: "the CPU time limit (hard)", 25: "the file size limit"}.get(
            signal, f"signal {signal}")
        return CodeResult(False, "", "", f"killed by {why} ({limits.cpu_seconds} s of CPU)" if signal in (9, 24)
                          else f"killed by {why}", "limit", seconds)
    try:
        verdict = json.loads(done.stdout[: 4 * limits.max_output_chars + 4096])
    except ValueError:
        why = "it ran out of memory" if b"MemoryError" in done.stderr else f"exit code {done.returncode}"
        return CodeResult(False, "", "", f"the code process died ({why})", "limit", seconds)
    verdict = {key: _printable(value) for key, value in verdict.items()}
    if not verdict["ok"]:
        return CodeResult(False, "", "", verdict["error"], verdict["kind"], seconds)
    return CodeResult(True, verdict["output"], verdict["value"], "", "", seconds)


def _printable(value):
    """Text the page can show: a lone surrogate ('\ud800', valid in a Python str) becomes '?'."""
    return value.encode("utf-8", "replace").decode("utf-8") if isinstance(value, str) else value


if __name__ == "__main__":
    if "--run" in sys.argv:
        _child_main(sys.argv)
    else:
        for snippet in ["x = [3, 1, 2]\nprint(sorted(x), sum(x))", "sum(i * i for i in range(10))",
                        "total = 0\nfor n in range(1, 101):\n    total += n\ntotal", "import os",
                        "().__class__.__base__", "__import__('os')", "while True: pass", "[0] * 10**9",
                        "for i in range(10**9): pass", "print('a' * 10**8)", "x = 10**10**10", "1 / 0"]:
            try:
                result = run_code(snippet)
                shown = result.text()
            except CodeError as err:
                shown = f"refused ({err.kind}): {err}"
            print(f"{snippet!r:48.48} -> {shown[:100]}")
