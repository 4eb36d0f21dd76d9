"""Questions whose answer is a number this machine has just measured: the learner predicts it, then checks.

A section that measures something records the figure for the session (ui.record(measure, value)); once
it is recorded, the page's quiz asks the question with the measured value among three others spread by
the same factors each time, so the guess is about the order of magnitude, not the last digit. Until
then the quiz says which section to run first. Kept as data like core.content.quizzes, with a test.

    options(2.4, "{:.1f}×") -> (('0.8×', '1.3×', '2.4×', '4.3×'), 2)   (which slot is right depends on the value)
"""
from dataclasses import dataclass

# The answer and three others: consecutive factors of this ladder, the answer's position set by the value.
LADDER = (1 / 4.5, 1 / 3, 1 / 1.8, 1.0, 1.8, 3.0, 4.5)


@dataclass(frozen=True)
class MeasuredQuestion:
    measure: str  # the key a section records its figure under
    question: str
    fmt: str  # how the figure is written: "{:.1f}×", "{:.0%}", "{:.0f} ms"
    why: str  # the explanation shown after an answer; "{value}" is the measured figure, formatted
    section: str  # where it is measured: a section of the page (as in core.content.quizzes)
    ask_after: str  # what to run first, shown while nothing is recorded yet
    integer: bool = False  # the figure is a count (a layer, a step): the options are neighbouring counts
    most: int | None = None  # the largest count possible (integer figures)


def options(value: float, fmt: str, integer: bool = False, most: int | None = None) -> tuple[tuple[str, ...], int]:
    """Four answer options around a measured value, ascending, and the index of the right one.

    The other three are the value times neighbouring factors of LADDER (or the neighbouring counts for an
    integer figure), so they stay far enough apart to be told apart once formatted.
    """
    if integer:
        start = max(0, int(value) - (int(value) % 3) - 1)  # the answer is not always the lowest or the highest
        if most is not None:
            start = max(0, min(start, most - 3))
        values = [start + i for i in range(4)]
        return tuple(fmt.format(v) for v in values), values.index(int(value))
    shift = round(abs(value) * 1000) % 4  # 0..3: which of the four slots holds the answer
    factors = LADDER[3 - shift: 7 - shift]
    return tuple(fmt.format(value * f) for f in factors), factors.index(1.0)


MEASURED = {
    "Transformer": [
        MeasuredQuestion(
            "lens_settles",
            "For the prompt you gave the logit lens, after which block does the model's final top-1 next token first "
            "appear as the lens's top-1 at the last position (0 = read straight from the embedding)?",
            "{:d}", "The lens showed it first after block {value}. Earlier blocks already push the residual stream "
            "toward the answer; the later ones mostly sharpen it (the entropy column falls).",
            "Logit lens", "Open the Logit lens section once.", integer=True, most=6),
    ],
    "Inference": [
        MeasuredQuestion(
            "kv_speedup",
            "On this machine, how many times faster was greedy generation with the KV cache than without it, "
            "at the length you timed?",
            "{:.1f}×", "Measured in the KV cache section: {value}. Without the cache step t reruns all t tokens "
            "(quadratic token-passes); with it each step runs one token, and tiny-lm's step is overhead-bound, so "
            "it stays nearly flat. The gap grows with the length.",
            "KV cache", "Open the KV cache section once."),
        MeasuredQuestion(
            "spec_best",
            "What was the best speedup our speculative-decoding loop reached on this machine, over the values of k "
            "you measured?",
            "{:.2f}×", "Measured: {value}. On 2 CPU cores the draft is not cheap enough (its cost follows its depth, "
            "not its bytes) and it often disagrees, so the papers' 2-3× on GPUs is out of reach here.",
            "Speculative decoding", "Run \u201cMeasure the speedup\u201d in the Speculative decoding section."),
        MeasuredQuestion(
            "verify_cost_5",
            "On this machine, one pass of our engine over 5 new tokens (4 drafted + 1) cost how many one-token passes?",
            "{:.1f}×", "Measured: {value}. A bandwidth-bound model reads its weights once per pass whatever the "
            "number of tokens, so it would be near 1.0×; here small matrix products cost close to one weight pass "
            "per row, which caps any draft's speedup at k = 4 to 5 divided by this figure.",
            "Where the time goes", "Run \u201cMeasure where the time goes\u201d in the Where the time goes section."),
    ],
}
