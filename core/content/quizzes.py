"""Interview-style questions that close each page: why, trade-offs and numbers, not only definitions.

Kept as data so a test can check every question is well formed, that its section exists on its page,
that the glossary defines the terms it uses, and that its numeric answers equal what core/ computes.
ui.quiz draws them. Papers are cited as "authors year (arXiv id)", the year of the first arXiv version.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    question: str
    options: tuple[str, ...]
    answer: int  # index into options
    why: str
    section: str  # where the page shows it: Inference's `section` Param value, another page's header, "" = none
    terms: tuple[str, ...] = ()  # glossary terms the question uses (core.content.glossary)


QUIZZES = {
    "Transformer": [
        Question("Why is QKᵀ divided by √D before the softmax?",
                 ("To make attention causal", "To keep the dot products' variance near 1 so the softmax does not saturate",
                  "To normalise each row to sum to 1", "To save memory"),
                 1, "With unit-variance q and k, q·k has variance D; dividing by √D brings it back to 1, so the "
                    "softmax keeps useful gradients instead of becoming one-hot (Vaswani et al. 2017 "
                    "(arXiv 1706.03762), section 3.2.1).",
                 "3 · The same attention, from scratch", ("scaled dot-product attention", "softmax")),
        Question("A decoder is trained with a causal mask and an encoder such as MiniLM is not. Why does the "
                 "decoder need it?",
                 (("Training predicts every position's next token at once: without the mask, position t could read "
                  "token t+1, the very token it must predict"),
                  "The mask makes attention cheaper to compute",
                  "Without it the attention rows would not sum to 1",
                  "The mask is what stores the KV cache"),
                 0, "M = −∞ above the diagonal hides the future, so one forward pass gives T honest next-token "
                    "predictions. An encoder only builds representations of a given text, so every token may see "
                    "the whole sentence.",
                 "3 · The same attention, from scratch", ("causal mask", "encoder", "decoder")),
        Question("MiniLM has C = 384 split into 12 heads of D = 32. Compared with a single head of dimension 384, "
                 "its Q, K, V and output projections have...",
                 ("the same number of weights, 4·C² = 589,824", "12 times as many weights",
                  "one twelfth as many weights", "12 × 4·D² = 49,152 weights"),
                 0, "Each head projects C → D, and H·D = C, so the H heads together are one C × C matrix per "
                    "projection: 4·384² = 589,824 weights either way. Heads split the work; they cost nothing extra.",
                 "The math", ("multi-head attention", "attention head")),
        Question("Going from a 2,048-token to an 8,192-token context, one head's score matrix QKᵀ grows by...",
                 ("16×", "4×", "2×", "64×"),
                 0, "It is T × T: (8,192 / 2,048)² = 4² = 16 times the scores, in compute and, if stored, in memory. "
                    "The projections and MLP grow only 4×.",
                 "2 · Attention maps of a real encoder", ("attention map",)),
        Question("With logits (2, 1, 0) and temperature τ = 1, the probability of the first token is about...",
                 ("0.67", "0.50", "0.74", "0.33"),
                 0, "softmax: e² / (e² + e¹ + e⁰) = 7.39 / 11.11 ≈ 0.665.",
                 "5 · Next-token probabilities of a tiny decoder", ("logit", "softmax")),
        Question("Raising the sampling temperature above 1...",
                 ("makes the next-token distribution flatter (higher entropy)", "makes it sharper",
                  "changes which token is most likely", "has no effect on greedy decoding and sampling alike"),
                 0, "Logits are divided by τ before the softmax: τ > 1 shrinks their differences, flattening the "
                    "distribution; the ranking, and so the argmax, never changes.",
                 "5 · Next-token probabilities of a tiny decoder", ("temperature", "entropy")),
        Question("The tiny LM has a vocabulary of 4,096 tokens. What is the largest entropy its next-token "
                 "distribution can have?",
                 ("12 bits", "4,096 bits", "8 bits", "1 bit"),
                 0, "Entropy peaks for the uniform distribution: log₂ 4,096 = 12 bits. A confident model sits far "
                    "below; a very high temperature pushes any distribution towards this ceiling.",
                 "5 · Next-token probabilities of a tiny decoder", ("entropy", "vocabulary size")),
        Question("What does uncased BERT's tokenizer (MiniLM's) do with Chinese characters before WordPiece runs?",
                 ("It puts spaces around every CJK ideograph, so each becomes a token of its own",
                  "It maps all of them to [UNK]", "It transliterates them to pinyin",
                  "It groups them into words with a dictionary"),
                 0, "CJK ideographs (Chinese characters, Japanese kanji) are isolated one by one; Japanese kana "
                    "and Korean Hangul are not, and go through WordPiece like any other word (Hangul is first "
                    "decomposed into jamo by accent stripping).",
                 "1 · Tokens", ("WordPiece", "token")),
        Question("In MiniLM's attention (C = 384, H = 12, D = 32), for T tokens, what goes into the output "
                 "projection W_O and what comes out?",
                 ("T × 384 in (the 12 heads' T × 32 outputs side by side), T × 384 out", "T × 32 in, T × 32 out",
                  "12 × T × T in (the attention maps), T × 384 out", "T × 384 in, T × 32 out"),
                 0, "Each head's probs · V is T × D = T × 32; twelve side by side make T × 384 = T × C, and W_O is "
                    "C × C, so the output has the model's width again, as the residual x + attention(x) needs. "
                    "W_O is also where the heads' results mix: before it, each head wrote only its own 32 columns.",
                 "3 · The same attention, from scratch", ("multi-head attention", "output projection")),
        Question("In the head view, the lines leaving one token in one head carry weights that add up to...",
                 ("1, because that token's row of the attention map is a softmax over the keys",
                  "T, the number of tokens", "12, the number of heads",
                  "it depends on how long the value vectors are"),
                 0, "Row t of a head's map is softmax(q_t · Kᵀ / √D), a probability distribution over the T keys, "
                    "so it sums to 1 for any sentence (the lines under 0.05 that are left out hold a little of it). "
                    "The lines a token receives, its column, follow no such rule: [CLS] and [SEP] often collect "
                    "far more than 1.",
                 "2 · Attention maps of a real encoder", ("head view", "attention map", "softmax")),
    ],
    "Pretraining": [
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
    ],
    "Fine-tuning": [
        Question("LoRA with rank r = 8 on a 4,096 × 4,096 weight matrix trains how many parameters for it?",
                 ("65,536", "16,777,216", "32,768", "4,096"),
                 0, "B is 4,096 × 8 and A is 8 × 4,096: 2 · 4,096 · 8 = 65,536, 0.4% of the 16,777,216 weights of "
                    "the matrix (Hu et al. 2021 (arXiv 2106.09685)).",
                 "The math", ("LoRA", "LoRA rank")),
        Question("Full fine-tuning of a model with 7 × 10⁹ parameters keeps an FP32 gradient and Adam's two FP32 "
                 "moments per parameter. How much memory do those take, weights not counted?",
                 ("84 GB", "28 GB", "56 GB", "14 GB"),
                 0, "4 bytes of gradient + 2 × 4 bytes of moments = 12 bytes per parameter: 12 × 7 × 10⁹ = 84 GB. "
                    "LoRA needs them only for its adapters, a fraction of a percent of that.",
                 "Memory", ("Adam", "gradient", "fine-tuning")),
        Question("Why is LoRA's B initialised to zero and A at random?",
                 ("So that BA = 0 and training starts exactly at the pretrained model, while gradients still reach B",
                  "So that both start at zero and stay small", "To save memory at the first step",
                  "Because A is frozen"),
                 0, "With B = 0 the adapted layer equals the base one at step 0. B's gradient is the output's "
                    "gradient times (Ax)ᵀ, not zero since A is random; A's gradient contains B, so it starts once B "
                    "has moved. Both zero would leave every gradient zero forever.",
                 "The math", ("LoRA",)),
        Question("After training LoRA with r = 8 on a 192 × 192 matrix, the update ΔW = (α/r)·BA has rank...",
                 ("at most 8", "exactly 192", "at least 8", "at most 4"),
                 0, "BA is a product through an 8-dimensional bottleneck, so its rank is at most r = 8, however "
                    "long it trains; full fine-tuning's ΔW can reach 192.",
                 "The math", ("LoRA rank",)),
        Question("LoRA trains under 1% of the weights, yet its peak memory during a step is not 100× smaller. Why?",
                 (("Activations are still stored: gradients must flow back through every layer to reach the "
                  "earliest adapters"),
                  "LoRA keeps a second copy of the model", "Adam's moments are kept for frozen weights too",
                  "PyTorch cannot free memory during training"),
                 0, "What LoRA saves is gradients and optimizer state of the frozen weights. The forward pass "
                    "keeps the same activations for the backward pass as full fine-tuning does.",
                 "Memory", ("activation memory", "LoRA")),
        Question("In standard supervised fine-tuning on prompt/response pairs, which tokens does the loss cover?",
                 ("Only the response tokens: the prompt's labels are masked out",
                  "Every token, prompt included", "Only the prompt tokens", "Only the last token"),
                 0, "Masking the prompt teaches the model to answer rather than to write prompts. The first "
                    "section's demo is a simplification (its loss covers every token, so the tiny LM also learns the "
                    "'Question:' template); the Instruction tuning section trains both ways and measures the mask.",
                 "Instruction tuning: the loss on the response", ("SFT", "loss mask")),
        Question("Why does LoRA scale BA by α/r?",
                 (("So the update's size stays roughly the same when r changes, and the learning rate need not "
                  "be retuned"),
                  "To make ΔW full rank", "To normalise the rows of W", "To match the dtype of W"),
                 0, "Doubling r doubles the terms in BA; dividing by r compensates, so α alone sets the scale.",
                 "The math", ("LoRA alpha", "LoRA rank")),
        Question("QLoRA fine-tunes a 65B-parameter model on one 48 GB GPU mainly because...",
                 (("the frozen base is stored in 4-bit NF4 (about 33 GB for 65B) and only the small 16-bit adapters "
                  "get gradients and Adam state"),
                  "it trains in 4-bit end to end", "it skips the backward pass", "it prunes half of the layers"),
                 0, "65 × 10⁹ weights × 0.5 byte ≈ 32.5 GB; the adapters and their optimizer state are tiny, and "
                    "paged optimizers absorb the peaks (Dettmers et al. 2023 (arXiv 2305.14314)).",
                 "The math", ("QLoRA", "NF4", "adapter")),
        Question("Which of these methods can be merged into the frozen weights after training, so that inference "
                 "costs exactly what the base model costs?",
                 ("LoRA and IA³: both are linear in W (W + BA, or a diagonal rescaling of W)",
                  "Bottleneck adapters", "Prompt tuning", "Prefix tuning"),
                 0, "A merged LoRA or IA³ model is a plain Llama again; the page times base, unmerged and merged "
                    "forward passes. An adapter keeps a nonlinearity between its two matrices, and prompt and "
                    "prefix tuning add virtual tokens or keys and values to every sequence.",
                 "PEFT families on one task", ("LoRA merge", "IA³", "adapter", "prompt tuning", "prefix tuning")),
        Question("IA³ on tiny-lm (6 layers; k_proj and v_proj each output 64 values, grouped-query attention; the MLP "
                 "is 512 wide) learns one scale per key, value and MLP hidden unit. How many parameters is that?",
                 ("3,840", "1,152", "30,720", "6,912"),
                 0, "6 · (64 + 64 + 512) = 3,840: 0.12% of tiny-lm's 3.15M, ten times fewer than LoRA r = 8 on q "
                    "and v (Liu et al. 2022 (arXiv 2205.05638)).",
                 "PEFT families on one task", ("IA³", "PEFT")),
        Question("peft's LLaMA-Adapter gave a NaN loss from step 2 on an FP16 copy of tiny-lm. What causes it?",
                 (("The zero-initialised gate gives the prompt a zero gradient, and Adam's ε = 1e-8 is 0 in FP16: "
                   "its first update is 0 / 0"),
                  "Grouped-query attention gives the prompt keys the wrong shape",
                  "The learning rate is too high for FP16", "RoPE is applied to the prompt keys"),
                 0, "peft handles grouped-query attention correctly (the page recomputes the adapter's output "
                    "independently). In FP32 the same first update is 0 / 1e-8 = 0 and training proceeds; peft "
                    "creates the prompt and gate in the base layer's dtype, so an FP16 base gives FP16 parameters.",
                 "PEFT families on one task", ("LLaMA-Adapter", "Adam")),
        Question("NF4 in blocks of 64 with double quantization (8-bit block scales, one FP32 scale per 256 of them) "
                 "stores a weight in how many bits?",
                 ("≈ 4.127", "4.5", "4.0", "8.0"),
                 0, "4 bits of code + 8/64 for the block scale + 32/(64 · 256) for the scale of the scales ≈ 4.127; "
                    "without double quantization the FP32 block scale costs 32/64 = 0.5 bit, 4.5 in all "
                    "(Dettmers et al. 2023 (arXiv 2305.14314)).",
                 "QLoRA: LoRA on a 4-bit base", ("double quantization", "NF4", "QLoRA")),
        Question("On this page's CPU, a QLoRA step is slower than a LoRA step on the same model. Why use QLoRA at all?",
                 (("It trades time for memory: each pass dequantizes the 4-bit blocks just in time, and the 4-bit base "
                   "is what lets a 65B model fit one GPU"),
                  "It trains fewer parameters than LoRA", "It makes the trained model 4-bit at inference only",
                  "It is faster on GPUs because 4-bit matrix products need no dequantization"),
                 0, "The trainable parameters are the same LoRA matrices. What shrinks is the frozen base, to about "
                    "a quarter of 16 bits; the compute still happens in 16 or 32 bits after dequantizing.",
                 "QLoRA: LoRA on a 4-bit base", ("QLoRA", "NF4")),
        Question("In SFT with the loss masked to the response, why does the end-of-text token after the answer "
                 "still carry loss?",
                 ("So the model learns to stop after answering", "Because the mask cannot cover special tokens",
                  "To teach the chat template", "It does not: special tokens never carry loss"),
                 0, "Stopping is part of the answer: without a target at the end-of-text position a tuned model "
                    "answers and then keeps writing. The page highlights it among the tokens that carry loss.",
                 "Instruction tuning: the loss on the response", ("SFT", "loss mask", "chat template")),
        Question("A Bradley-Terry reward model scores r(x, y_w) = 2 and r(x, y_l) = 0. What probability does it give "
                 "that people prefer y_w?",
                 ("σ(2) ≈ 0.88", "2 / (2 + 0) = 1", "0.5", "e² ≈ 7.4"),
                 0, "P(y_w ≻ y_l) = σ(r_w − r_l) = 1 / (1 + e⁻²) ≈ 0.88; only the difference of rewards matters, "
                    "and its loss −log σ(2) ≈ 0.13.",
                 "Preference tuning: reward model and DPO", ("reward model", "Bradley-Terry model")),
        Question("At DPO's first step the policy equals the reference model. What is the DPO loss of every pair then?",
                 ("log 2 ≈ 0.693", "0", "β", "It is undefined"),
                 0, "Every log-ratio log π/π_ref is 0, so every implicit reward and margin is 0 and −log σ(0) = log 2; "
                    "the page's curves start there (Rafailov et al. 2023 (arXiv 2305.18290)).",
                 "Preference tuning: reward model and DPO", ("DPO",)),
        Question("What does DPO remove from the RLHF pipeline of SFT, reward model and PPO?",
                 (("The separate reward model and the PPO sampling loop: the policy's log-ratio to the reference "
                   "is the reward"),
                  "The SFT stage", "The preference data", "The reference model"),
                 0, "The KL-penalised objective RLHF optimises has a closed-form optimum, so r = β log π/π_ref + "
                    "β log Z(x); in the Bradley-Terry loss Z(x) cancels and one supervised loss on the pairs is left. "
                    "The SFT model stays, as the start and as π_ref.",
                 "Preference tuning: reward model and DPO", ("DPO", "RLHF", "PPO", "KL penalty")),
        Question("In DPO, what does a smaller β do?",
                 ("Lets the policy move further from the reference: a weaker KL leash",
                  "Keeps the policy closer to the reference", "Lowers the learning rate", "Shortens the answers"),
                 0, "β is the weight of the KL penalty in the objective DPO solves; the implicit reward β log π/π_ref "
                    "needs larger log-ratios to reach the same margin when β is small.",
                 "Preference tuning: reward model and DPO", ("DPO", "KL penalty")),
        Question("A support assistant must answer from a product manual that changes every week. What should you "
                 "try first?",
                 ("Retrieval (RAG) over the manual, with a prompt that asks for cited answers",
                  "Full fine-tuning on the manual every week", "LoRA on the manual", "A longer system prompt only"),
                 0, "Knowledge that changes belongs in the context, retrieved per query: no retraining, and answers "
                    "can cite their passage. Fine-tuning teaches behaviour and format; a few-shot prompt cannot hold "
                    "a whole manual.",
                 "Guide: prompting, RAG, fine-tuning or PEFT?", ("RAG", "few-shot prompting", "PEFT")),
    ],
    "Inference": [
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
    ],
    "Multimodal": [
        Question("A 224×224 image with 16×16 patches becomes how many patch tokens?", ("14", "196", "256", "3,136"),
                 1, "(224/16)² = 14² = 196 tokens (plus a [CLS] token in ViT).",
                 "3 · A picture is a sentence of patches (ViT)", ("ViT patch", "ViT")),
        Question("Halving the ViT patch size P multiplies one head's attention scores per layer by about...",
                 ("16", "4", "2", "8"),
                 0, "Half the patch size gives 2 × 2 = 4 times the tokens, and attention scores grow with the "
                    "square of the tokens: 16 times. That is why high-resolution models tile their input.",
                 "3 · A picture is a sentence of patches (ViT)", ("ViT patch", "attention")),
        Question("ViT's patch embedding runs as Conv2d(3, C, kernel=P, stride=P). That is the same as...",
                 ("flattening each P×P×3 patch and multiplying it by one matrix E of shape (3P², C)",
                  "a convolution network like ResNet", "averaging the pixels of each patch",
                  "a different matrix for every patch position"),
                 0, "With stride = kernel the windows do not overlap, and each output is a dot product of one "
                    "patch with the kernel: a single shared linear map (the page checks it to float rounding).",
                 "3 · A picture is a sentence of patches (ViT)", ("ViT patch",)),
        Question("CLIP's contrastive loss pushes...",
                 ("matching image/caption pairs together and the rest of the batch apart",
                  "images to reconstruct their pixels", "captions to predict the next word", "all embeddings to zero"),
                 0, "Symmetric InfoNCE over the batch's similarity matrix: the diagonal up, off-diagonal down "
                    "(Radford et al. 2021 (arXiv 2103.00020)).",
                 "1 · Contrastive training makes a diagonal", ("CLIP", "InfoNCE", "contrastive learning")),
        Question("With random weights every logit is about equal. What is CLIP's InfoNCE loss on a batch of "
                 "B = 8 pairs?",
                 ("ln 8 ≈ 2.08", "0", "8", "1/8"),
                 0, "Each row and column is a uniform softmax over 8 candidates, so the cross-entropy of the right "
                    "one is −ln(1/8) = ln 8. Training drives it towards 0.",
                 "1 · Contrastive training makes a diagonal", ("InfoNCE", "cross-entropy")),
        Question("In a batch of B = 12 picture/caption pairs, how many mismatched pairs does CLIP's loss push apart?",
                 ("132", "12", "144", "66"),
                 0, "Every picture is scored against every caption: B² = 144 pairs, of which the B = 12 on the "
                    "diagonal match, leaving 144 − 12 = 132. Larger batches give more negatives for free.",
                 "1 · Contrastive training makes a diagonal", ("contrastive learning",)),
        Question("Why is CLIP's classification called zero-shot?",
                 (("The labels are written as text prompts at test time; no classifier is trained on labelled "
                  "examples of them"),
                  "It needs zero images to train", "It makes zero mistakes", "It uses no text encoder"),
                 0, "Embed one prompt per label and pick the one most similar to the picture: changing the label "
                    "set only means writing new prompts.",
                 "2 · Zero-shot classification", ("zero-shot classification", "CLIP")),
        Question("A LLaVA-style model with a ViT-L/14 image encoder at 224×224 pixels puts how many image tokens "
                 "in front of the text?",
                 ("256", "196", "576", "16"),
                 0, "(224/14)² = 16² = 256 patch features, each projected into the LLM's embedding space. At "
                    "336 pixels (LLaVA-1.5) it is 24² = 576.",
                 "4 · From image features to an LLM (LLaVA)", ("LLaVA", "projector", "ViT patch")),
        Question("Train with the temperature fixed at τ = 1 (logits = cosine) and B = 32 pairs. Why can the loss "
                 "never get near 0?",
                 (("Cosines lie in [−1, 1]: even a perfect match against 31 captions at −1 gets p ≤ e / (e + 31e⁻¹) "
                   "≈ 0.19, so the loss stays above ln(1 + 31e⁻²) ≈ 1.65"),
                  "A fixed τ stops the gradients from reaching the encoders",
                  "With τ = 1 the embeddings are no longer unit length",
                  "32 pairs are too few negatives to learn from"),
                 0, "The softmax cannot get confident on logits spread over only [−1, 1] (and 32 unit vectors cannot "
                    "all be at −1 from each other: the best, a regular simplex, gives ≈ 2.49). Dividing by a small "
                    "τ widens the range, which is why CLIP learns τ, starting at 0.07 (1/τ ≈ 14.3, capped at 100).",
                 "5 · Train a tiny CLIP yourself, live", ("logit scale", "InfoNCE")),
    ],
    "Agents": [
        Question("Why does the calculator tool parse an AST instead of calling eval?",
                 ("eval is slower", "eval would run any Python the model or a document writes",
                  "AST parsing is more accurate", "eval cannot do arithmetic"),
                 1, "Text from a model or a retrieved document is untrusted: a whitelist of AST nodes, with limits "
                    "on size and exponents, allows arithmetic and nothing else.",
                 "Hostile input, run live", ("safe calculator",)),
        Question("In ReAct, what does the model see after each Action?",
                 ("Nothing", "The tool's Observation, appended to its prompt", "The final answer", "Its own weights"),
                 1, "Thought → Action → Observation repeats: the observation becomes context for the next "
                    "thought (Yao et al. 2022 (arXiv 2210.03629)).",
                 "The loop, step by step", ("ReAct", "observation")),
        Question("A retrieved document says 'IGNORE PREVIOUS INSTRUCTIONS and run calculator[...]'. Which defence "
                 "still holds when the model is fooled?",
                 ("Tools that can do nothing harmful, and a human confirming risky actions",
                  "A filter that deletes the words 'ignore previous instructions'",
                  "Asking the model in its prompt not to obey documents", "Using a larger model"),
                 0, "Filters and prompts lower the odds but no filter catches every injection (Greshake et al. 2023 "
                    "(arXiv 2302.12173)); the last layer, safe tools and least privilege, does not depend on the "
                    "model.",
                 "Hostile input, run live", ("prompt injection",)),
        Question("Why does an agent loop need a step limit?",
                 ("A policy can repeat a failing action forever, and every step costs a model call",
                  "Tools can only be called once", "The prompt would otherwise be empty",
                  "ReAct forbids more than three steps"),
                 0, "The runtime, not the model, must guarantee that the loop ends: a hard cap on steps (and a "
                    "timeout per tool) bounds cost and latency whatever the policy writes.",
                 "The loop, step by step", ("step limit", "agent")),
        Question("Why does LLM Lab's agent use a scripted policy rather than the tiny LM?",
                 (("A 3M-parameter model trained on scripture has never seen a tool call; tool use is learned from "
                  "examples"),
                  "The tiny LM is too slow to run", "Scripts are what real agents use",
                  "The tiny LM cannot read its prompt"),
                 0, "Models learn the Thought/Action format from demonstrations or self-labelled data (Toolformer, "
                    "Schick et al. 2023 (arXiv 2302.04761)) and instruction tuning; the page shows what the tiny "
                    "LM writes instead.",
                 "Could the tiny LM be the policy?", ("policy", "Toolformer")),
        Question("The code tool's allowlist accepts `x = [0] * 10**9`. What stops it?",
                 ("The process's memory limit (RLIMIT_AS): allowed code is bounded only by the process",
                  "The allowlist refuses large numbers", "Python refuses lists over a million items",
                  "Nothing: the server runs out of memory"),
                 0, "An allowlist bounds what code may do, not how much: 8 GB of zeros is plain arithmetic. The "
                    "second wall, a fresh process with CPU and memory rlimits killed at a deadline, stops it; "
                    "production agents add a third, a container or micro-VM.",
                 "Try a tool: a small offline web, conversions, dates, and code in a box", ("defence in depth",)),
        Question("In a knowledge base of N = 68 entries, a word found in only one entry has BM25 IDF "
                 "ln(1 + (N − n + 0.5)/(n + 0.5)) of about...",
                 ("3.83", "4.22", "0.01", "68"),
                 0, "ln(1 + 67.5/1.5) = ln 46 ≈ 3.83, while a word in all 68 entries gets "
                    "ln(1 + 0.5/68.5) ≈ 0.007: rare words decide the ranking.",
                 "The math of the search tool: BM25", ("IDF", "BM25")),
        Question("With BM25's k₁ = 1.5, in an entry of average length, a word occurring 10 times scores how much "
                 "more than a word occurring once (same IDF)?",
                 ("about 2.2×", "10×", "1×", "about 3.2×"),
                 0, "f(k₁ + 1)/(f + k₁): 10 × 2.5 / 11.5 ≈ 2.17 against 1 × 2.5 / 2.5 = 1. Term frequency "
                    "saturates, so repeating a word cannot buy a top rank.",
                 "The math of the search tool: BM25", ("BM25",)),
        Question("Which queries does BM25 handle better than dense embeddings?",
                 ("Rare exact strings such as names, error codes and part numbers",
                  "Paraphrases with no word in common", "Questions in another language", "Long vague questions"),
                 0, "BM25 matches words, and a rare word gets a large IDF; an embedding may blur 'E1234' into "
                    "its neighbours. Hybrid search combines both scores.",
                 "The math of the search tool: BM25", ("BM25",)),
    ],
    "RAG & long context": [
        Question("For L2-normalised embeddings, cosine similarity equals...",
                 ("the inner product", "the L1 distance", "one minus the inner product squared", "the angle in degrees"),
                 0, "cos(a, b) = a·b / (|a||b|), and |a| = |b| = 1, so an inner-product index (IndexFlatIP) "
                    "ranks by cosine.",
                 "The math: cosine similarity is an inner product",
                 ("cosine similarity", "sentence embedding", "flat index")),
        Question("'Lost in the middle' says models use retrieved context best when the key passage is...",
                 ("in the middle of a long prompt", "at the beginning or the end", "repeated three times", "left out"),
                 1, "Accuracy is U-shaped in the passage's position (Liu et al. 2023 (arXiv 2307.03172)).",
                 "Long context: more is not always better", ("lost in the middle",)),
        Question("Exact search's top 10 for a query are 10 chunk ids; HNSW returns 10 ids, 7 of them among the "
                 "exact 10. Its recall@10 is...",
                 ("0.7", "0.3", "7", "1.0"),
                 0, "recall@k = |found ∩ true| / k = 7 / 10. Averaged over many queries it is how approximate "
                    "indexes are compared; exact search scores 1.",
                 "Index types at scale", ("recall@k", "HNSW")),
        Question("A 2,000-character document cut into fixed 400-character chunks with 80 characters of overlap "
                 "gives how many chunks?",
                 ("6", "5", "7", "4"),
                 0, "Each chunk starts 400 − 80 = 320 after the last: at 0, 320, 640, 960, 1,280 and 1,600, and "
                    "the one at 1,600 reaches the end. Overlap costs 6 chunks where 5 would tile the text.",
                 "Trade-offs of chunk size and overlap", ("chunk overlap", "chunk")),
        Question("A flat index of 10,000 chunks embedded as 384-dimensional float32 vectors holds about...",
                 ("15.4 MB", "3.8 MB", "1.5 MB", "61.4 MB"),
                 0, "10,000 × 384 × 4 bytes = 15,360,000 bytes. A flat index stores the vectors themselves; "
                    "HNSW adds graph links on top, PQ shrinks them.",
                 "Index types at scale", ("flat index", "faiss")),
        Question("IVF-PQ stores each 384-dimensional float32 vector in 24 bytes. The compression is...",
                 ("64×", "16×", "384×", "4×"),
                 0, "384 × 4 = 1,536 bytes down to 24: 64×. The price is approximate scores, which is why real "
                    "systems re-rank PQ's shortlist with the full vectors.",
                 "Index types at scale", ("PQ", "IVF")),
        Question("For three questions the first relevant chunk comes at rank 1, at rank 3, and not at all. The "
                 "mean reciprocal rank is about...",
                 ("0.44", "0.67", "0.33", "1.33"),
                 0, "(1/1 + 1/3 + 0) / 3 = 0.444. Unlike hit@k, MRR rewards putting the answer first.",
                 "Trade-offs of chunk size and overlap", ("MRR",)),
        Question("Why can very large chunks hurt retrieval even when they contain the answer?",
                 (("Mean pooling dilutes the answer among unrelated sentences, and MiniLM truncates past 256 word "
                  "pieces, so the end is not embedded at all"),
                  "faiss cannot index long vectors", "Large chunks make cosine similarity negative",
                  "They do not: bigger is always better"),
                 0, "One vector summarises the whole chunk. Small chunks match precisely but lose context, so the "
                    "size is a trade-off the page measures.",
                 "Trade-offs of chunk size and overlap", ("chunk", "mean pooling")),
        Question("Raising HNSW's efSearch...",
                 ("raises recall and query time: more candidates are kept while walking the graph",
                  "lowers memory use", "makes the search exact at any value", "changes the stored vectors"),
                 0, "efSearch is the size of the candidate list at query time; M (links per node) is fixed when "
                    "the graph is built (Malkov and Yashunin 2016 (arXiv 1603.09320)).",
                 "Index types at scale", ("HNSW",)),
        Question("Why retrieve 4 chunks instead of pasting every document into a 100,000-token context window?",
                 (("Attention cost grows with the square of the context and the KV cache linearly, and models use "
                  "the middle of long prompts poorly"),
                  "Long prompts are always truncated to 512 tokens", "Retrieval makes the model larger",
                  "Models cannot read documents"),
                 0, "A short prompt with the right passages is cheaper, faster and often more accurate than a long "
                    "one with marginal ones.",
                 "Long context: more is not always better", ("context window", "RAG", "lost in the middle")),
        Question("Reciprocal rank fusion with c = 60 and equal weights: a chunk ranked 1st by BM25 and 3rd by dense "
                 "search scores...",
                 ("1/61 + 1/63 ≈ 0.0323", "1/1 + 1/3 ≈ 1.33", "(1 + 3) / 2 = 2", "1/64 ≈ 0.0156"),
                 0, "RRF(d) = Σ 1/(c + rank): 1/61 + 1/63. The constant c damps the gap between rank 1 and rank 2, "
                    "so one method's lucky top hit cannot outvote the other (Cormack, Clarke and Büttcher 2009).",
                 "Sparse, dense and hybrid retrieval, scored", ("RRF", "hybrid search")),
        Question("Why does hybrid search fuse the ranks of BM25 and dense search instead of adding their scores?",
                 (("BM25 scores (0 to ~20, growing with rare words) and cosines (−1 to 1) live on different scales, "
                   "so a sum is dominated by whichever is larger; ranks are comparable"),
                  "Adding scores is too slow for a search engine", "faiss cannot return scores",
                  "Ranks carry more information than scores"),
                 0, "Score fusion needs a normalisation that is fragile across queries; reciprocal rank fusion needs "
                    "none, and a weight on each method's term is the only knob.",
                 "Sparse, dense and hybrid retrieval, scored", ("RRF", "BM25", "hybrid search")),
        Question("Why is a cross-encoder used to re-rank a shortlist rather than to search the whole collection?",
                 (("It reads the question and a chunk together, one forward pass per pair at query time, so it "
                   "cannot use vectors computed ahead of time"),
                  "It cannot score more than 20 chunks by design", "It needs a GPU to run at all",
                  "Its scores are less accurate than cosine similarity"),
                 0, "A bi-encoder embeds every chunk once and searches with one matrix product; a cross-encoder is "
                    "more accurate (Nogueira and Cho 2019 (arXiv 1901.04085)) but pays a model call per candidate, so "
                    "it only reorders the first stage's top 20-100.",
                 "Reranking: a second, slower look", ("cross-encoder",)),
        Question("Product quantization with m = 48 sub-vectors of 8 bits on 384-d float32 vectors: besides 48 bytes "
                 "per vector, the index stores codebooks of...",
                 ("393,216 bytes (256 centroids × 384 floats × 4 bytes), whatever the number of vectors",
                  "48 bytes in all", "1,536 bytes per vector", "nothing: PQ needs no codebook"),
                 0, "Each of the 48 sub-quantizers keeps 256 centroids of 8 dimensions: 256 × 384 floats. With a few "
                    "hundred vectors this fixed cost makes a PQ index larger than a flat one; at a million vectors it "
                    "is negligible next to the 48 MB of codes.",
                 "faiss indexes on real MiniLM embeddings", ("PQ",)),
        Question("A model trained on 128-token windows uses position interpolation with s = 4. Position 400 is then "
                 "turned by RoPE exactly as, before, position...",
                 ("100", "400", "1600", "128"),
                 0, "PI divides every frequency by s: angle = 400·θ/4 = 100·θ. Every position up to 512 lands on "
                    "angles seen in training, and neighbours sit 4 times closer (Chen et al. 2023 (arXiv 2306.15595)).",
                 "Stretching RoPE past the trained length", ("position interpolation", "RoPE")),
        Question("NTK-aware scaling by a factor s replaces RoPE's base b with b·s^(D/(D−2)). What does that do to "
                 "the fastest and the slowest rotating pairs?",
                 ("The fastest is unchanged, the slowest is divided by exactly s",
                  "Both are divided by s", "Both are unchanged", "The fastest is divided by s, the slowest unchanged"),
                 0, "θ_i = b^(−2i/D): pair 0 is b⁰ = 1 for any base, and the last pair, i = D/2 − 1, gets "
                    "s^(−(D−2)/D · D/(D−2)) = 1/s. High frequencies extrapolate, low ones interpolate.",
                 "Stretching RoPE past the trained length", ("NTK-aware scaling", "RoPE")),
        Question("YaRN multiplies RoPE's cos and sin by 0.1·ln s + 1. For a scale factor s = 16 that is about...",
                 ("1.28", "1.6", "2.6", "0.72"),
                 0, "0.1 × ln 16 + 1 = 0.1 × 2.77 + 1 ≈ 1.28; q and k are both scaled, so the logits grow by about "
                    "1.28², sharpening attention that longer contexts would otherwise spread thin (Peng et al. 2023 "
                    "(arXiv 2309.00071)).",
                 "Stretching RoPE past the trained length", ("YaRN",)),
        Question("Causal sliding-window attention with a window of w tokens over a context of T tokens scores "
                 "about how many (query, key) pairs per head and layer?",
                 ("T·w: linear in T", "T²/2, as full causal attention", "w²", "T·log T"),
                 0, "Each query sees at most w keys. Stacking L layers still lets information travel L·(w − 1) tokens "
                    "back (Longformer, Beltagy et al. 2020 (arXiv 2004.05150); Mistral 7B uses w = 4,096).",
                 "Sliding-window and sparse attention", ("sliding-window attention", "context window")),
        Question("A retriever scores every chunk on its own. Hiding the needle at 50 % depth instead of 0 % changes "
                 "the rank of the needle's chunk...",
                 ("not at all, apart from its neighbours changing", "to the middle of the ranking",
                  "by half the number of chunks", "only for dense search"),
                 0, "Position only matters to a model reading the whole context in order: that is where Liu et al. "
                    "2023 (arXiv 2307.03172) measured the U-shaped curve. Retrieval then puts the needle's chunk in a "
                    "short prompt.",
                 "A needle in a haystack", ("needle in a haystack", "lost in the middle")),
    ],
}
