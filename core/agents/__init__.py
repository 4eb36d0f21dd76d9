"""Agents: a ReAct loop whose every step is data, safe tools, and prompt injection shown and defended.

Modules:
- trace: Decisions, Steps and Traces as plain data; reading an Action line.
- loop: the ReAct loop, the prompt a real LLM would receive, and example tasks.
- policies: who writes each step, a scripted policy (rules, not a model) or a tiny LM.
- injection: spotting instruction-like text in questions and tool output.
- search: the search tool, BM25 over the knowledge base.
- tools: the AST calculator and BM25 search over the knowledge base, with limits; run_tool for every tool.
- code_tool: an allowlisted subset of Python, walked by a small interpreter (no eval or exec) in a child
  process under rlimits; the allowlist is code_check, the child's side (rlimits, interpreter) code_interpreter.
- units: unit conversion from a table ("5 km to mi").
- dates: date arithmetic and day counts ("2024-02-28 + 2 days").
"""
