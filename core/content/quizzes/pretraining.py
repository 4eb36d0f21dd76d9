"""The Pretraining page's closing questions (core.content.quizzes)."""
from core.content.quizzes.question import Question

QUESTIONS = [
    Question("Growing a BPE vocabulary from 1,000 to 8,000 tokens mostly...",
             ("raises characters per token, so sequences get shorter", "lowers characters per token",
              "makes unknown characters possible", "changes nothing for common words"),
             0, "Each merge replaces a frequent pair by one token, so text is cut into fewer, longer pieces; "
                "the gain shrinks as the vocabulary grows (the curve flattens).",
             "3 · Vocabulary size against compression", ("BPE", "characters per token")),
    Question("Why not use a 1,000,000-token vocabulary, since it would make sequences shortest?",
             (("The embedding table and output layer grow with V, and rare tokens get too few training examples "
              "to learn good vectors"),
              "Tokenizers cannot store more than 65,536 tokens", "Attention cost grows with V²",
              "BPE training would never stop"),
             0, "V × C weights at the input and (untied) again at the output, and a softmax over V at every "
                "position; meanwhile a token seen a handful of times in pretraining has a poorly trained "
                "embedding. Common vocabularies range from about 30,000 (BERT) to 256,000 tokens.",
             "3 · Vocabulary size against compression", ("vocabulary size", "embedding")),
    Question("The tiny LM has C = 192 and a 4,096-token vocabulary, with its output head tied to the input "
             "embeddings. How many weights does that shared table hold?",
             ("786,432", "1,572,864", "4,288", "37,748,736"),
             0, "V × C = 4,096 × 192 = 786,432, a quarter of the model's 3.15M parameters. Untied, the output "
                "head would add as many again (1,572,864 in all).",
             "3 · Vocabulary size against compression", ("embedding", "vocabulary size")),
    Question("A byte-level BPE tokenizer with 2 special tokens is trained to a 4,096-token vocabulary. How "
             "many merges did it learn?",
             ("3,838", "4,096", "3,840", "4,094"),
             0, "The vocabulary starts with 2 special tokens and the 256 bytes, 258 entries; each merge adds "
                "one token: 4,096 − 258 = 3,838.",
             "1 · Train a BPE tokenizer, live", ("byte-level BPE", "merge")),
    Question("Why can a byte-level BPE tokenizer encode any text?",
             ("It has a token for every word", "Its base alphabet is the 256 byte values",
              "It falls back to [UNK]", "It lowercases the text"),
             1, "Every string is a sequence of UTF-8 bytes and every byte is in the base vocabulary "
                "(GPT-2, Radford et al. 2019), so an unseen script costs more tokens but never fails.",
             "2 · How it splits your text", ("byte-level BPE",)),
    Question("decode(encode(text)) == text holds for byte-level BPE. Why does it fail for uncased WordPiece?",
             (("WordPiece lowercases, strips accents and maps unknown characters to [UNK]: information is "
              "thrown away before the ids are made"),
              "WordPiece uses a random seed", "WordPiece vocabularies are too small to hold spaces",
              "It does not fail: both are lossless"),
             0, "Byte-level BPE only regroups bytes, so decoding restores them exactly; uncased WordPiece "
                "normalises the text first, and 'Café' and 'cafe' get the same ids.",
             "2 · How it splits your text", ("WordPiece", "byte-level BPE", "special token")),
    Question("Why can the compression curve be one 8,000-token training run cut at each smaller size?",
             (("BPE training is greedy: the first n merges of a longer run are exactly the merges of an "
              "n-merge run on the same text"),
              "Smaller vocabularies are always subsets by definition, whatever the algorithm",
              "The curve is extrapolated, not measured", "Because the corpus is small"),
             0, "Each step picks the most frequent pair given the merges so far and never revisits a "
                "choice, so stopping earlier gives the same prefix of merges (the page's test checks it).",
             "3 · Vocabulary size against compression", ("BPE", "merge")),
    Question("WordPiece picks merges differently from BPE: it maximises...",
             (("count(ab) / (count(a) · count(b)), so two rare pieces that always occur together win over two "
              "common ones"),
              "count(ab) alone, like BPE", "the length of the merged token", "a random pair each step"),
             0, "The ratio favours pairs whose parts seldom occur apart, an estimate of how much merging "
                "them raises the corpus likelihood; BPE's raw count favours frequent pairs even when their "
                "parts are frequent on their own.",
             "The math", ("WordPiece", "BPE", "merge")),
    Question("MinHash with P = 100 hash functions estimates a Jaccard similarity of 0.5. Its standard error "
             "is about...",
             ("0.05", "0.005", "0.5", "0.25"),
             0, "Each of the P minima agrees with probability J, independently, so the estimate is a binomial "
                "share: SE = √(J(1 − J)/P) = √(0.25/100) = 0.05. Four times as many hash functions halve it.",
             "Data pipeline", ("MinHash", "Jaccard similarity")),
    Question("LSH with b = 20 bands of r = 5 rows: two documents with Jaccard similarity 0.5 become a "
             "candidate pair with probability about...",
             ("0.47", "0.03", "0.50", "0.97"),
             0, "A band matches with probability s^r = 0.5⁵ = 1/32, and at least one of 20 bands with "
                "1 − (31/32)²⁰ ≈ 0.47. At s = 0.8 it is 0.9996, at s = 0.3 only 0.05: an S-curve whose steep "
                "part sits near (1/b)^(1/r) ≈ 0.55.",
             "Data pipeline", ("LSH", "Jaccard similarity")),
    Question("Why deduplicate a pretraining corpus at all?",
             (("Repeated text gets memorised and wastes compute, and copies shared by the training and test "
               "sets inflate evaluation scores"),
              "Duplicates make the tokenizer fail", "A transformer cannot read the same sentence twice",
              "Only to save disk space"),
             0, "Lee et al. 2021 (arXiv 2107.06499) found near-duplicates throughout standard corpora; after "
                "removing them, models emitted memorised training text far less often, at the same or better "
                "perplexity, and train/test overlap that had flattered evaluations was gone.",
             "Data pipeline", ("deduplication",)),
    Question("BERT selects 15% of the positions for MLM, then replaces 80% of them with [MASK], 10% with a "
             "random token and leaves 10% unchanged. Why not always [MASK]?",
             (("[MASK] never occurs when the model is fine-tuned or used, so it must not learn that only "
               "[MASK] positions need a good representation"),
              "To make training faster", "Because [MASK] would leak the answer",
              "Random tokens lower the loss"),
             0, "Devlin et al. 2018 (arXiv 1810.04805), section 3.1: the mix softens the mismatch between "
                "pretraining and fine-tuning; since any token may be a target in disguise, the model must "
                "build a good representation of every position.",
             "MLM vs CLM", ("masked language modelling",)),
    Question("A window of T = 128 tokens: how many positions carry a loss under CLM, and about how many "
             "under MLM at 15%?",
             ("127 and about 19", "128 and 128", "64 and about 19", "127 and 128"),
             0, "CLM predicts the next token at every position but the last (T − 1 = 127); MLM only at the "
                "selected 15% (0.15 × 128 ≈ 19). About 6.6 times fewer learning signals per window, one "
                "reason ELECTRA (Clark et al. 2020 (arXiv 2003.10555)) makes every token a target.",
             "MLM vs CLM", ("causal language modelling", "masked language modelling")),
    Question("A freshly initialised language model with a 4,096-token vocabulary starts training at a loss "
             "of about...",
             ("8.32 nats", "4,096 nats", "0 nats", "1 nat"),
             0, "At initialisation the logits are almost equal, so every token gets p ≈ 1/V and the "
                "cross-entropy is −ln(1/4,096) = ln 4,096 ≈ 8.32 nats (perplexity 4,096). A run that starts "
                "far from ln V has a bug in its initialisation or its loss.",
             "Train a tiny GPT", ("cross-entropy", "perplexity")),
    Question("Training with micro-batches of B = 8 and gradient accumulation k = 4 gives, per optimizer "
             "step...",
             ("the gradient of a batch of 32, at the activation memory of a batch of 8",
              "four optimizer steps on batches of 8", "the gradient of a batch of 8, four times larger",
              "a batch of 32 at the memory of a batch of 32"),
             0, "Each micro-batch's loss is divided by k and backward() adds into .grad, so the sum is the mean "
                "gradient over all 32 windows (the page checks it); only one micro-batch's activations are "
                "alive at a time. The price: k passes one after the other, no speed-up.",
             "Train a tiny GPT", ("gradient accumulation",)),
    Question("On a CPU with AVX2 but neither AVX512-BF16 nor AMX, BF16 autocast training of a small model "
             "is...",
             (("slower than FP32: each bf16 matmul converts its inputs to fp32 and back, outside the fast "
               "FP32 kernels"),
              "about twice as fast as FP32: half the bytes", "exactly as fast as FP32",
              "impossible: torch refuses to run it"),
             0, "Without native bf16 instructions the conversions are pure overhead (several times slower here; "
                "the page measures it on this server). Mixed precision pays off where the hardware multiplies "
                "bf16 natively: GPU tensor cores, CPUs with AVX512-BF16 or AMX.",
             "Train a tiny GPT", ("BF16", "mixed precision")),
    Question("By Chinchilla's rule of about 20 tokens per parameter, a compute-optimal 1-billion-parameter "
             "model trains on about how many tokens, at what compute?",
             ("20B tokens, 1.2 × 10²⁰ FLOPs", "1B tokens, 6 × 10¹⁸ FLOPs", "300B tokens, 1.8 × 10²¹ FLOPs",
              "20B tokens, 2 × 10¹⁹ FLOPs"),
             0, "D = 20 N = 2 × 10¹⁰ tokens, and C = 6ND = 6 × 10⁹ × 2 × 10¹⁰ = 1.2 × 10²⁰ FLOPs: the 1B row "
                "of Hoffmann et al. 2022 (arXiv 2203.15556), Table 3 (1.21 × 10²⁰ FLOPs, 20.2B tokens).",
             "Scaling", ("compute-optimal", "6ND")),
    Question("Gopher (280B parameters, 300B tokens) and Chinchilla (70B, 1.4T tokens) used about the same "
             "compute. Why did Chinchilla win?",
             (("Gopher was undertrained: at that budget a 4× smaller model trained on 4.7× the tokens reaches "
               "a lower loss"),
              "Chinchilla used a better tokenizer", "Chinchilla had more parameters",
              "Gopher's data was not deduplicated"),
             0, "In L(N, D) = E + A/N^α + B/D^β, Gopher's ~1 token per parameter left the data term large; "
                "about 20 tokens per parameter balances the two. Chinchilla beat Gopher on most benchmarks "
                "and is 4× cheaper to run.",
             "Scaling", ("scaling law", "compute-optimal")),
    Question("GPipe with p = 4 pipeline stages and m = 4 micro-batches: what share of the time does each "
             "device idle?",
             ("3/7 ≈ 43%", "1/4 = 25%", "3/4 = 75%", "0%"),
             0, "The bubble is (p − 1)/(m + p − 1) = 3/7: the pipeline fills and drains once per batch. With "
                "m = 16 micro-batches it falls to 3/19 ≈ 16% (Huang et al. 2018 (arXiv 1811.06965)).",
             "Parallelism", ("pipeline parallelism",)),
    Question("A 7.5B-parameter model trained with mixed-precision Adam on 64 GPUs: memory per GPU for "
             "weights, gradients and optimizer states, plain data parallelism against ZeRO stage 3?",
             ("120 GB against 1.9 GB", "120 GB against 31.4 GB", "16 GB against 0.25 GB",
              "60 GB against 30 GB"),
             0, "(2 + 2 + 12) bytes × 7.5B = 120 GB on every GPU; stage 3 partitions weights, gradients and "
                "optimizer states over the 64 GPUs: 120/64 ≈ 1.9 GB (Rajbhandari et al. 2019 "
                "(arXiv 1910.02054), Figure 1). Stage 1 alone gives 31.4 GB.",
             "Parallelism", ("ZeRO",)),
    Question("Two data-parallel processes each compute the gradient of half of every batch and all-reduce "
             "(average) them. Each process then holds...",
             ("the full batch's gradient, up to float rounding, so their weights stay identical",
              "half of the full batch's gradient", "its own gradient, so the weights drift apart",
              "the gradient of whichever process finished last"),
             0, "With equal halves, the mean of the two half-batch means is the full-batch mean; every copy "
                "then takes the same optimizer step. The page runs it for real over gloo and compares with "
                "one process on the whole batch.",
             "Parallelism", ("data parallelism", "all-reduce")),
]
