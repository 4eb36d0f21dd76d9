"""Inference: what happens after training, when a model writes one token at a time, and what it costs.

Modules:
- decoding: greedy, temperature, top-k, top-p and beam search, step by step.
- kv_cache: generation with and without the KV cache, timed, and the cache's memory for real configs.
- quant_formats: the grids a weight can land on (INT8, NF4, FP4, BF16) and rounding to them.
- quantization: whole-model variants (FP32, BF16, INT8, LLM.int8, NF4, FP4), their sizes and layer errors.
- quant_measure: those variants measured side by side (size, latency, perplexity, agreement), on a budget.
- quant_methods: RTN, GPTQ- and AWQ-style quantizers on real weight matrices.
- speculative: a draft proposes, the target verifies; our loop and transformers' assisted generation.
- traces: the seeded request workload a simulated server runs, cut to a work budget.
- paged_kv: contiguous vs paged (PagedAttention) KV memory allocators.
- serving: continuous vs static batching over those allocators, simulated step by step.
- batching: real batched generation on the tiny LM, and the decode roofline.
- engine, engine_speculative: our own decode path on the Llama weights, and speculative decoding on it.
"""
