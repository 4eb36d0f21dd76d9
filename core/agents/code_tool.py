"""A code tool: a small, allowlisted subset of Python, run in a separate process under resource limits.

Agents that write code (a "code interpreter") are powerful because the model can compute anything,
and dangerous for the same reason: the code comes from a model that anyone can steer. Real agent
runtimes therefore stack independent walls, each assuming the one before it has failed
(defence in depth):

1. **An allowlist** (`check_code`, core/agents/code_check.py): `ast.parse` the text and accept only listed node
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
   (`python -I -S core/agents/code_interpreter.py --run`, code on stdin: no site-packages, no environment,
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

The child's side (the check, the interpreter, the rlimits: core/agents/code_check.py and code_interpreter.py)
uses only the standard library, so it starts in about 20 ms without importing torch, Streamlit or the core
package; rlimits come from `resource`, so this runs on Linux and macOS, not Windows. This module is the
parent's side: spawn the child, enforce the deadline, read its verdict.
"""
import dataclasses
import json
import subprocess
import sys
import time
from dataclasses import dataclass

from core.agents import code_interpreter
from core.agents.code_check import CodeError, CodeLimits, check_code
from core.agents.code_interpreter import run_checked

__all__ = ["CodeError", "CodeLimits", "CodeResult", "check_code", "run_checked", "run_code"]


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


# ---- wall 2, the parent's side: spawn, deadline, read the verdict ----------------------------------
def run_code(code: str, limits: CodeLimits = CodeLimits(), deadline: float | None = None) -> CodeResult:  # noqa: B008
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
    args = [sys.executable, "-I", "-S", code_interpreter.__file__, "--run", json.dumps(dataclasses.asdict(limits))]
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
