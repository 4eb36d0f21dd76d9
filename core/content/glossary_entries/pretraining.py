"""The glossary's entries for the Pretraining page (core.content.glossary_entries)."""
from core.content.glossary_entries.entry import MATH, Entry

# the page's section headers the entries point at
P_TRAIN = "1 · Train a BPE tokenizer, live"
P_SPLIT = "2 · How it splits your text"
P_VOCAB = "3 · Vocabulary size against compression"
P_MERGES = "4 · The merges, step by step"
P_DATA = "Data pipeline"
P_OBJECTIVES = "MLM vs CLM"
P_GPT = "Train a tiny GPT"
P_SCALING = "Scaling"
P_PARALLEL = "Parallelism"

ENTRIES = (
    Entry("pretraining", "Training a model from random weights to predict the next (or a masked) token on a large "
          "unlabelled corpus; it comes before any fine-tuning.", "Pretraining"),
    Entry("causal language modelling", "The pretraining objective of decoders: predict every token from the "
          "tokens before it, scored by the cross-entropy of the true token.", "Pretraining",
          aliases=("CLM", "next-token prediction")),
    Entry("BPE", "Byte-pair encoding: start from characters or bytes and repeatedly merge the most frequent "
          "adjacent pair into a new token until the vocabulary reaches its target size.", "Pretraining", P_TRAIN,
          "Sennrich et al. 2015 (arXiv 1508.07909)", ("byte-pair encoding",)),
    Entry("byte-level BPE", "BPE whose base alphabet is the 256 byte values, so any text in any script can be "
          "encoded, without an unknown token (GPT-2, the tiny LMs).", "Pretraining", P_SPLIT),
    Entry("merge", "One learned BPE rule, 'a + b → ab'; encoding replays the merges in the order they were "
          "learned.", "Pretraining", P_MERGES, aliases=("merge rule",)),
    Entry("vocabulary size", "V, the number of distinct tokens: a larger V gives shorter sequences but a larger "
          "embedding table and output layer, and rarer tokens with fewer training examples each.",
          "Pretraining", P_VOCAB, aliases=("vocabulary",)),
    Entry("characters per token", "Characters of held-out text divided by the tokens it becomes: a tokenizer's "
          "compression, which rises with the vocabulary size and flattens.", "Pretraining", P_VOCAB,
          aliases=("compression",)),
    Entry("Unigram tokenizer", "Starts from a large vocabulary and prunes the tokens whose removal lowers the "
          "corpus likelihood least; part of the SentencePiece library.", "Pretraining", MATH,
          "Kudo 2018 (arXiv 1804.10959)", ("SentencePiece",)),
    Entry("deduplication", "Removing repeated documents from a corpus: exact copies by a hash of the normalised "
          "text, near copies by MinHash + LSH; repeated text is memorised and wastes compute.", "Pretraining",
          P_DATA, "Lee et al. 2021 (arXiv 2107.06499)", ("dedup", "near-duplicate", "exact dedup")),
    Entry("quality filter", "Rules that drop low-quality lines or documents from a crawl: too few words, too many "
          "symbols, long runs of one character, too few real words (after C4 and Gopher).", "Pretraining", P_DATA,
          "Rae et al. 2021 (arXiv 2112.11446)"),
    Entry("Jaccard similarity", "|A ∩ B| / |A ∪ B| of two sets; for documents, of their sets of word k-grams "
          "(shingles): 1 for identical texts, 0 for texts sharing no k-gram.", "Pretraining", P_DATA,
          aliases=("Jaccard index", "shingle")),
    Entry("MinHash", "Keep, for each of P random hash functions, the smallest hash of a document's shingles; two "
          "documents agree on one such minimum with probability equal to their Jaccard similarity.",
          "Pretraining", P_DATA, "Broder 1997"),
    Entry("LSH", "Locality-sensitive hashing: cut each MinHash signature into b bands of r rows and compare only "
          "documents that agree on a whole band, with probability 1 − (1 − s^r)^b.", "Pretraining", P_DATA,
          "Indyk & Motwani 1998", ("locality-sensitive hashing", "banding")),
    Entry("masked language modelling", "BERT's pretraining objective: hide about 15% of the tokens (80% [MASK], "
          "10% random, 10% unchanged) and predict them from the context on both sides.", "Pretraining",
          P_OBJECTIVES, "Devlin et al. 2018 (arXiv 1810.04805)", ("MLM", "masked LM")),
    Entry("gradient accumulation", "Sum the gradients of k micro-batches, each loss divided by k, before one "
          "optimizer step: the gradient of a k-times larger batch at the memory of one micro-batch.",
          "Pretraining", P_GPT),
    Entry("learning-rate schedule", "How the learning rate changes during training; the usual one warms up "
          "linearly over the first steps, then decays along a cosine to a fraction of its peak.", "Pretraining",
          P_GPT, "Loshchilov & Hutter 2016 (arXiv 1608.03983)", ("warm-up", "warmup", "cosine schedule")),
    Entry("mixed precision", "Training with 16-bit matmuls (FP16 or BF16) while weights, softmax and the loss "
          "stay in FP32; fast where the hardware multiplies 16-bit numbers natively.", "Pretraining", P_GPT,
          "Micikevicius et al. 2017 (arXiv 1710.03740)", ("autocast", "AMP")),
    Entry("BF16", "bfloat16: FP32's 8 exponent bits with a 7-bit mantissa, so the same range as FP32 at half the "
          "bytes, and no loss scaling needed (FP16 has only 5 exponent bits).", "Pretraining", P_GPT,
          "Kalamkar et al. 2019 (arXiv 1905.12322)", ("bfloat16",)),
    Entry("6ND", "Training compute C ≈ 6·N·D FLOPs for N parameters and D tokens: 2 per parameter per token "
          "forward, 4 backward.", "Pretraining", P_SCALING, "Kaplan et al. 2020 (arXiv 2001.08361)",
          ("6ND rule", "training FLOPs")),
    Entry("scaling law", "A fitted power law of loss against model size, data and compute, such as Chinchilla's "
          "L(N, D) = E + A/N^α + B/D^β.", "Pretraining", P_SCALING, "Hoffmann et al. 2022 (arXiv 2203.15556)",
          ("scaling laws",)),
    Entry("compute-optimal", "The split of a compute budget between parameters and tokens that minimises the "
          "loss; Chinchilla found about 20 tokens per parameter.", "Pretraining", P_SCALING,
          "Hoffmann et al. 2022 (arXiv 2203.15556)", ("Chinchilla", "compute-optimal training")),
    Entry("data parallelism", "Every device holds the whole model and takes a share of each batch; gradients are "
          "all-reduced so every copy takes the same step (PyTorch's DDP).", "Pretraining", P_PARALLEL,
          "Li et al. 2020 (arXiv 2006.15704)", ("DDP", "distributed data parallel")),
    Entry("all-reduce", "A collective operation: every process contributes a tensor and every process receives "
          "their sum (or mean).", "Pretraining", P_PARALLEL, aliases=("allreduce",)),
    Entry("pipeline parallelism", "Layers split into stages on different devices, the batch into micro-batches "
          "flowing through them; devices idle while the pipeline fills and drains (the bubble).", "Pretraining",
          P_PARALLEL, "Huang et al. 2018 (arXiv 1811.06965)", ("GPipe", "pipeline bubble", "bubble")),
    Entry("tensor parallelism", "One layer's matrices split over devices: Megatron splits the MLP's first matrix "
          "by columns and the second by rows, with one all-reduce per block.", "Pretraining", P_PARALLEL,
          "Shoeybi et al. 2019 (arXiv 1909.08053)", ("Megatron",)),
    Entry("ZeRO", "Zero Redundancy Optimizer: partitions the optimizer states (stage 1), gradients (stage 2) and "
          "weights (stage 3) over data-parallel devices instead of replicating them.", "Pretraining", P_PARALLEL,
          "Rajbhandari et al. 2019 (arXiv 1910.02054)", ("ZeRO-1", "ZeRO-2", "ZeRO-3")),
)
