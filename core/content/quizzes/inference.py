"""The Inference page's closing questions (core.content.quizzes)."""
from core.content.quizzes.question import Question

QUESTIONS = [
    Question("Per token, the KV cache of Llama-2-7B (32 layers, 32 KV heads, head dim 128, FP16) holds...",
             ("128 KiB", "512 KiB", "2 MiB", "32 KiB"),
             1, "2 (K and V) × 32 layers × 32 heads × 128 × 2 bytes = 524,288 bytes = 512 KiB, so a "
                "4,096-token context takes 2 GiB.",
             "KV cache", ("KV cache",)),
    Question("Llama-2-70B uses GQA: 80 layers, 64 query heads sharing 8 KV heads of dimension 128. In FP16, "
             "its KV cache per token is...",
             ("320 KiB", "2.5 MiB", "40 KiB", "160 KiB"),
             0, "2 × 80 × 8 × 128 × 2 bytes = 327,680 bytes = 320 KiB; with 64 KV heads (MHA) it would be "
                "8× more, 2.5 MiB (Ainslie et al. 2023 (arXiv 2305.13245)).",
             "KV cache", ("GQA", "KV cache")),
    Question("Falcon-7B has 32 layers and 71 query heads of dimension 64 that share one KV head (MQA). Its "
             "FP16 KV cache per token is...",
             ("8 KiB", "568 KiB", "64 KiB", "1 KiB"),
             0, "2 × 32 × 1 × 64 × 2 bytes = 8,192 bytes = 8 KiB, 71× less than MHA's 568 KiB. 71 is prime, "
                "so no grouping into 8 KV heads exists: Falcon-7B is MQA, not GQA.",
             "KV cache", ("MQA", "KV cache")),
    Question("Generating n tokens with a KV cache, how does the total attention work grow?",
             (("O(n²): each new token still attends to every cached position, though the projections and MLP "
              "grow only as O(n)"),
              "O(n): the cache makes generation linear", "O(n³)", "O(1) per token, so O(n)"),
             0, "Step t reads t cached keys and values: 1 + 2 + … + n ≈ n²/2. Without the cache every step "
                "re-runs its whole prefix: O(n²) token-passes and O(n³) attention work.",
             "KV cache", ("KV cache", "attention")),
    Question("Prefill is compute-bound while batch-1 decode of a 7B model is bandwidth-bound. Why?",
             (("Prefill multiplies every weight it reads by all T prompt tokens; decode multiplies it by one "
              "token, about 1 FLOP per byte in FP16"),
              "Prefill skips the attention", "Decode runs on the CPU", "Prefill uses INT8 weights"),
             0, "Arithmetic per byte read is what decides: a GPU does 100-300 FLOPs in the time it reads a "
                "byte, so one token per weight read leaves it waiting on memory.",
             "KV cache", ("prefill", "decode", "memory-bandwidth-bound")),
    Question("On a GPU with 2 TB/s of memory bandwidth, a 7B model in FP16 decodes at batch 1 at most about...",
             ("143 tokens/s", "22,000 tokens/s", "14 tokens/s", "1,430 tokens/s"),
             0, "Each token reads all 14 GB of weights: 2 × 10¹² / 14 × 10⁹ ≈ 143 tokens/s. Its FLOP bound "
                "(312 TFLOP/s ÷ 14 GFLOP per token) is about 22,000: bandwidth-bound about 150× over, which "
                "is why batching rows onto the same weight read pays.",
             "Serving", ("roofline", "memory-bandwidth-bound")),
    Question("tiny-lm decodes at about 8% of this machine's roofline. What limits it?",
             (("Fixed per-operation overhead: about a hundred small PyTorch operations per step (Python, "
              "dispatch), the same for 1 row or 16"),
              "Memory bandwidth: reading its 12.6 MB of weights", "Floating-point throughput",
              "The size of its KV cache"),
             0, "Its weights fit in the CPU's caches, so neither bytes nor FLOPs are the bottleneck: the "
                "fixed cost of each operation is. That is why batching multiplies its tokens/s almost for free.",
             "Serving", ("overhead-bound", "roofline")),
    Question("Why can 4-bit weights make the tiny LM slower than FP32 on this CPU?",
             (("Its decode step is per-operation overhead, not weight bytes, so dequantizing adds work and "
              "saves nothing"),
              "They are less accurate", "CPUs cannot store 4-bit numbers", "They need a larger KV cache"),
             0, "Quantization saves bytes read. A bandwidth-bound 7B model on a GPU gains (14 GB → 3.5 GB per "
                "token); an overhead-bound tiny model only pays the unpacking.",
             "Quantization", ("overhead-bound", "quantization")),
    Question("Absmax INT8 on a row whose largest |w| is 0.5: the largest rounding error any weight of the row "
             "can get is...",
             ("0.5/254 ≈ 0.00197", "0.5/127 ≈ 0.00394", "1/254 of the row's range (max − min)", "0.5/256"),
             0, "The step is absmax/127, and rounding moves a value by at most half a step: absmax/254, 1/254 "
                "of the row's absmax. One large weight therefore coarsens the whole row, hence smaller groups "
                "and LLM.int8's outlier columns.",
             "Quantization", ("absmax", "INT8")),
    Question("A model's mean cross-entropy on held-out text is 3.0 nats per token. Its perplexity is about...",
             ("20", "3", "8", "1,000"),
             0, "Perplexity = e^3.0 ≈ 20.1: as uncertain as a uniform choice among 20 tokens. 8 would be 2³, "
                "the value for 3.0 bits.",
             "Quantization", ("perplexity", "cross-entropy")),
    Question("With greedy verification, speculative decoding's output is...",
             ("identical to the target's own greedy output", "the draft's output",
              "an average of both models", "random"),
             0, "The target checks every drafted token and keeps only those it would have chosen itself, plus "
                "one token of its own (Leviathan et al. 2022 (arXiv 2211.17192)).",
             "Speculative decoding", ("speculative decoding", "greedy decoding")),
    Question("Acceptance rate α = 0.8, k = 4 drafted tokens per round, and a draft pass costing c = 0.1 of a "
             "target pass. The expected speedup (1 − α^(k+1)) / ((1 − α)(k·c + 1)) is about...",
             ("2.4×", "3.4×", "5×", "1.2×"),
             0, "Tokens per round: (1 − 0.8⁵) / 0.2 = 3.36; cost per round: 1 + 4 × 0.1 = 1.4 target passes; "
                "3.36 / 1.4 ≈ 2.40.",
             "Speculative decoding", ("acceptance rate", "draft model")),
    Question("When decoding is overhead-bound, as for the tiny LMs on a CPU, a draft pass's cost tracks...",
             ("its depth, the number of layers and so of operations, not its bytes",
              "its parameter bytes", "only its vocabulary size", "nothing: drafts are free"),
             0, "Each operation costs about the same fixed overhead whatever its size, so a shallow draft is "
                "cheap and a narrow but deep one is not. On a GPU with a big target, bytes rule instead.",
             "Speculative decoding", ("draft model", "overhead-bound")),
    Question("Speculative decoding checks k drafted tokens with one target pass over k + 1 tokens. If that pass "
             "costs r one-token passes, a free draft that is always right speeds decoding up by at most...",
             ("(k + 1) / r", "k + 1, whatever r is", "r / (k + 1)", "k · r"),
             0, "Each round yields k + 1 tokens for the price of r one-token passes. A bandwidth-bound model "
                "(a 7B model on a GPU) has r close to 1, so the ceiling is k + 1; on a CPU where small matrix "
                "products cost about one weight pass per row, r grows with k and the ceiling stays near 2×.",
             "Where the time goes", ("speculative decoding", "roofline")),
    Question("A 7B-parameter model in FP16 decodes at batch 1 on a GPU with 3.35 TB/s of memory bandwidth. Its "
             "roofline allows at most about...",
             ("240 tokens/s", "2,400 tokens/s", "24 tokens/s", "24,000 tokens/s"),
             0, "Every token reads all 14 GB of weights: 3.35 TB/s ÷ 14 GB ≈ 240 tokens/s. Its arithmetic "
                "(2 FLOPs per parameter per token) would allow tens of thousands, so it is bandwidth-bound.",
             "Where the time goes", ("roofline",)),
    Question("With top-p = 0.9 and next-token probabilities 0.5, 0.3, 0.15 and 0.05, how many tokens can be "
             "sampled?",
             ("3", "2", "4", "1"),
             0, "Keep the most probable tokens until they add up to at least 0.9: 0.5 + 0.3 = 0.8 is not "
                "enough, 0.8 + 0.15 = 0.95 is. The nucleus shrinks when the model is sure "
                "(Holtzman et al. 2019 (arXiv 1904.09751)).",
             "Decoding", ("top-p sampling",)),
    Question("Beam search suits translation but makes open-ended stories dull. Why?",
             (("It returns the most probable sequences, and for open-ended text those are generic and "
              "repetitive; translation has one right answer to approximate"),
              "It is random", "It cannot produce rare tokens at all", "It is slower than sampling"),
             0, "Maximising probability is right when there is a best output. Beam search is older than "
                "neural models; Sutskever et al. 2014 (arXiv 1409.3215) used it for neural translation.",
             "Decoding", ("beam search", "greedy decoding")),
    Question("Why does continuous batching raise a server's throughput over static batching?",
             (("Finished requests leave and waiting ones join at every step, so no row idles until the batch's "
              "longest answer ends"),
              "It uses a smaller model", "It skips the prefill", "It compresses the KV cache"),
             0, "With static batching a 10-token answer holds its row for as long as the 500-token answer next "
                "to it; iteration-level scheduling (Orca) refills rows every step.",
             "Serving", ("continuous batching", "static batching")),
    Question("What waste does PagedAttention remove?",
             (("Reserving KV memory for the longest answer a request might give: blocks are handed out as tokens "
              "arrive, so at most one partly filled block per sequence is wasted"),
              "The attention computation itself", "The model weights' memory", "Tokenization overhead"),
             0, "More sequences then fit in the same memory, and a bandwidth-bound server turns the extra rows "
                "into throughput (Kwon et al. 2023 (arXiv 2309.06180)).",
             "Serving", ("PagedAttention", "KV cache")),
]
