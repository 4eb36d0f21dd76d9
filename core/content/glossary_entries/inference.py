"""The glossary's entries for the Inference page (core.content.glossary_entries)."""
from core.content.glossary_entries.entry import Entry

ENTRIES = (
    Entry("greedy decoding", "Always take the most probable next token: deterministic, and often repetitive.",
          "Inference", "Decoding", aliases=("greedy",)),
    Entry("temperature", "τ divides the logits before the softmax: τ < 1 sharpens the distribution, τ > 1 "
          "flattens it, and the ranking of tokens never changes.", "Inference", "Decoding"),
    Entry("top-k sampling", "Sample only among the k most probable tokens.", "Inference", "Decoding",
          "Fan et al. 2018 (arXiv 1805.04833)", ("top-k",)),
    Entry("top-p sampling", "Sample among the smallest set of most probable tokens whose probabilities add up to "
          "at least p: few candidates when the model is sure, many when it is not.", "Inference", "Decoding",
          "Holtzman et al. 2019 (arXiv 1904.09751)", ("top-p", "nucleus sampling")),
    Entry("beam search", "Keep the B most probable partial sequences at every step and return the most probable "
          "finished one; older than neural models (speech recognition), used for neural translation by "
          "Sutskever et al. 2014 (arXiv 1409.3215).", "Inference", "Decoding"),
    Entry("repetition penalty", "Lower the logits of tokens already generated, to stop loops.", "Inference",
          "Decoding", "Keskar et al. 2019 (arXiv 1909.05858)"),
    Entry("KV cache", "The keys and values of every processed token, per layer and KV head: each new token runs "
          "alone through the projections and MLP (linear in n), but attention still reads the whole cache, so "
          "its total work is O(n²), and O(n³) without the cache.", "Inference", "KV cache"),
    Entry("prefill", "The first inference phase: the whole prompt runs through the model in parallel and fills "
          "the KV cache; each weight read serves many tokens, so it is compute-bound.", "Inference", "KV cache"),
    Entry("decode", "The second inference phase, one token per step, reading every weight and the cache each "
          "time: bandwidth-bound for a 7B model, overhead-bound for the tiny LM.", "Inference", "KV cache",
          aliases=("decode phase",)),
    Entry("MQA", "Multi-query attention: all query heads share one key/value head, dividing the KV cache by H; "
          "Falcon-7B has 71 query heads and one KV head.", "Inference", "KV cache",
          "Shazeer 2019 (arXiv 1911.02150)", ("multi-query attention",)),
    Entry("GQA", "Grouped-query attention: each key/value head serves a group of query heads; Llama-2-70B's 64 "
          "query heads share 8 KV heads, an 8× smaller cache than MHA.", "Inference", "KV cache",
          "Ainslie et al. 2023 (arXiv 2305.13245)", ("grouped-query attention",)),
    Entry("roofline", "A kernel's speed limit, the smaller of compute rate ÷ FLOPs needed and bandwidth ÷ bytes "
          "needed; decoding a 7B FP16 model at batch 1 sits far below its compute roof.", "Inference", "Serving",
          "Williams et al. 2009"),
    Entry("memory-bandwidth-bound", "Limited by the bytes to read, not by arithmetic: a 7B model in FP16 reads "
          "14 GB of weights per decoded token, so its batch-1 speed is at most bandwidth ÷ 14 GB.", "Inference",
          "Serving", aliases=("bandwidth-bound", "memory-bound")),
    Entry("overhead-bound", "Limited by fixed per-operation costs (Python, dispatch, kernel launches), not by bytes "
          "or FLOPs: the tiny LM decodes at about 8% of its roofline, so a draft's cost follows its depth, not "
          "its bytes.", "Inference", "Serving"),
    Entry("quantization", "Storing weights (or activations, or the KV cache) with fewer bits, e.g. 8- or 4-bit "
          "codes and a scale, to save memory and bandwidth at a small cost in accuracy.", "Inference",
          "Quantization"),
    Entry("absmax", "Symmetric scaling by the largest |w| of a row or block: INT8 stores round(127·w / absmax), so "
          "rounding moves a weight by at most absmax/254.", "Inference", "Quantization",
          aliases=("absmax quantization",)),
    Entry("INT8", "8-bit integers −127..127 times a scale: half of FP16's bytes; LLM.int8 keeps outlier "
          "columns in 16-bit.", "Inference", "Quantization", "Dettmers et al. 2022 (arXiv 2208.07339)",
          ("LLM.int8",)),
    Entry("NF4", "4-bit NormalFloat: 16 levels at quantiles of a normal distribution, scaled per block of 64 "
          "weights by its absmax; made for normally distributed weights.", "Inference", "Quantization",
          "Dettmers et al. 2023 (arXiv 2305.14314)", ("NormalFloat",)),
    Entry("FP4", "A 4-bit float (sign, 2 exponent bits, 1 mantissa bit): 15 distinct levels, log-spaced, finest "
          "near zero.", "Inference", "Quantization"),
    Entry("zero point", "The integer offset of asymmetric quantization, so that a skewed range [min, max] uses "
          "all 2^b levels.", "Inference", "Quantization", aliases=("zero-point",)),
    Entry("outlier features", "A few hidden dimensions of large models with values far larger than the rest; they "
          "ruin a shared scale, which is why LLM.int8 keeps them in 16-bit.", "Inference", "Quantization",
          "Dettmers et al. 2022 (arXiv 2208.07339)"),
    Entry("GPTQ", "Post-training quantization column by column, updating the remaining weights to cancel each "
          "column's error, using second-order statistics of calibration inputs.", "Inference", "Quantization",
          "Frantar et al. 2022 (arXiv 2210.17323)"),
    Entry("AWQ", "Activation-aware weight quantization: scale up the input channels that meet large activations "
          "before rounding, so the weights that matter most lose least.", "Inference", "Quantization",
          "Lin et al. 2023 (arXiv 2306.00978)"),
    Entry("perplexity", "exp(mean cross-entropy per token): the effective number of tokens the model hesitates "
          "between; a uniform guess over V tokens scores V.", "Inference", "Quantization"),
    Entry("speculative decoding", "A small draft model proposes k tokens, the target checks them all in one pass "
          "and keeps the longest agreeing prefix plus one token of its own: the target's output, sooner.",
          "Inference", "Speculative decoding", "Leviathan et al. 2022 (arXiv 2211.17192)"),
    Entry("draft model", "The small model that proposes tokens in speculative decoding; it pays off only if its "
          "pass is much cheaper than the target's and it often agrees with it.", "Inference",
          "Speculative decoding", aliases=("draft",)),
    Entry("acceptance rate", "α, the fraction of drafted tokens the target accepts; with k drafts a round yields "
          "(1 − α^(k+1)) / (1 − α) tokens on average.", "Inference", "Speculative decoding",
          aliases=("acceptance",)),
    Entry("static batching", "Run a batch until its longest answer is finished; rows that finish early idle "
          "(padded) and waiting requests wait.", "Inference", "Serving"),
    Entry("continuous batching", "Iteration-level scheduling: at every model step finished requests leave the "
          "batch and waiting ones join.", "Inference", "Serving", "Yu et al. 2022",
          ("iteration-level scheduling",)),
    Entry("PagedAttention", "Stores the KV cache in fixed-size blocks handed out as tokens arrive, like pages of "
          "virtual memory, instead of reserving room for the longest possible answer.", "Inference", "Serving",
          "Kwon et al. 2023 (arXiv 2309.06180)", ("vLLM",)),
)
