"""The glossary's entries for the Agents page (core.content.glossary_entries)."""
from core.content.glossary_entries.entry import Entry

# the page's section headers the entries point at
A_LOOP = "The loop, step by step"
A_POLICY = "Could the tiny LM be the policy?"
A_HOSTILE = "Hostile input, run live"
A_BM25 = "The math of the search tool: BM25"
A_TOOLS = "Try a tool: a small offline web, conversions, dates, and code in a box"

ENTRIES = (
    Entry("agent", "A language model run in a loop that picks actions such as tool calls, reads their results and "
          "continues until it can answer.", "Agents", A_LOOP),
    Entry("ReAct", "Interleave Thought, Action and Observation in one transcript: the model reasons, calls a "
          "tool, reads the result and reasons again.", "Agents", A_LOOP, "Yao et al. 2022 (arXiv 2210.03629)"),
    Entry("observation", "The text a tool returns, appended to the agent's prompt: data to reason about, never "
          "instructions to follow.", "Agents", A_LOOP, aliases=("tool output",)),
    Entry("step limit", "The runtime's cap on an agent's Thought/Action rounds, because a policy can repeat a "
          "failing action forever and every step costs a model call.", "Agents", A_LOOP),
    Entry("policy", "The part of an agent that writes the next Thought and Action: normally an LLM, here a script "
          "of rules, since the tiny LM has never seen a tool call.", "Agents", A_POLICY),
    Entry("Toolformer", "A model that taught itself to call APIs by keeping, in its training data, only the calls "
          "that made the following text easier to predict.", "Agents", A_POLICY,
          "Schick et al. 2023 (arXiv 2302.04761)"),
    Entry("prompt injection", "Instructions hidden in text the model reads (a web page, a retrieved document, a "
          "tool's output) that it may follow as if they came from its user.", "Agents", A_HOSTILE,
          "Greshake et al. 2023 (arXiv 2302.12173)", ("indirect prompt injection",)),
    Entry("safe calculator", "Arithmetic parsed with ast.parse and evaluated by walking only allowed nodes under "
          "size limits, instead of eval, which would run any Python a model or a document writes.", "Agents",
          A_HOSTILE, aliases=("eval", "AST")),
    Entry("defence in depth", "Independent walls around code an agent runs, each assuming the last has failed: an "
          "allowlist of Python constructs, then a process with CPU and memory limits, then a container or VM.",
          "Agents", A_TOOLS, aliases=("sandbox", "code interpreter", "rlimit")),
    Entry("BM25", "Keyword ranking: over the query's words, sum IDF × a saturating function of the word's count "
          "in the document, normalised by the document's length (k1, b).", "Agents", A_BM25,
          "Robertson and Zaragoza 2009", ("Okapi BM25",)),
    Entry("IDF", "Inverse document frequency, ln(1 + (N − n + 0.5)/(n + 0.5)) in BM25: a word in few of the N "
          "documents weighs far more than one in all of them.", "Agents", A_BM25,
          aliases=("inverse document frequency",)),
)
