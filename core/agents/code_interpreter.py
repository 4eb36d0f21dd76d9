"""The code tool's child process (core.agents.code_tool): lower its own rlimits, check the code again, and
walk the checked tree with a small interpreter (no eval, no exec): the only way agent code runs.

Run as `python -I -S core/agents/code_interpreter.py --run <limits as JSON>`, code on stdin, a JSON
verdict on stdout. Standard library only, so it starts in about 20 ms without torch, Streamlit or the core
package: `-I` puts no directory on sys.path, so the child finds its one sibling, code_check, by its folder.
"""
import ast
import json
import math
import operator
import sys

if __package__:  # imported: core.agents.code_interpreter
    from core.agents.code_check import (
        CONSTRUCTS,
        SAFE_BUILTINS,
        CodeError,
        CodeLimits,
        check_code,
    )
else:  # the child, run as a script by its path
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from code_check import CONSTRUCTS, SAFE_BUILTINS, CodeError, CodeLimits, check_code


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
    """`python -I -S code_interpreter.py --run <limits as JSON>`: lower rlimits, read code on stdin, write JSON."""
    limits = CodeLimits(**json.loads(argv[argv.index("--run") + 1]))
    _set_rlimits(limits)
    code = sys.stdin.buffer.read(limits.max_chars * 4 + 1).decode("utf-8", errors="replace")
    result = run_checked(code, limits)
    sys.stdout.buffer.write(json.dumps(result).encode("ascii"))


if __name__ == "__main__":
    _child_main(sys.argv)
