"""The glossary's entries, kept as data: every term the pages use, one line each, with the page section
that shows it and its paper (core.content.glossary searches and links them).

Papers are cited as "authors year (arXiv id)", the year being that of the first arXiv version:
"Hu et al. 2021 (arXiv 2106.09685)"; a paper not on arXiv has authors and year only.
"""
import re
from dataclasses import dataclass

_ARXIV = re.compile(r"\(arXiv (\d{4}\.\d{4,5})\)")


@dataclass(frozen=True)
class Entry:
    term: str
    definition: str  # one line, in LLM Lab's own words
    page: str  # a page title, a key of core.content.home.PAGE_URLS
    section: str = ""  # Inference: a value of its `section` Param; other pages: a header's text; "" = the page's top
    paper: str = ""  # "Hu et al. 2021 (arXiv 2106.09685)", or "" when the idea has no single source
    aliases: tuple[str, ...] = ()  # other names search should treat as the term

    @property
    def paper_url(self) -> str:
        """The arXiv page of the paper, or "" when it is not on arXiv."""
        match = _ARXIV.search(self.paper)
        return f"https://arxiv.org/abs/{match.group(1)}" if match else ""


T_TOKENS = "1 · Tokens"
T_MAPS = "2 · Attention maps of a real encoder"
T_SCRATCH = "3 · The same attention, from scratch"
T_NEXT = "5 · Next-token probabilities of a tiny decoder"
P_TRAIN = "1 · Train a BPE tokenizer, live"
P_SPLIT = "2 · How it splits your text"
P_VOCAB = "3 · Vocabulary size against compression"
P_MERGES = "4 · The merges, step by step"
P_DATA = "Data pipeline"
P_OBJECTIVES = "MLM vs CLM"
P_GPT = "Train a tiny GPT"
P_SCALING = "Scaling"
P_PARALLEL = "Parallelism"
M_CLIP = "1 · Contrastive training makes a diagonal"
M_ZERO = "2 · Zero-shot classification"
M_VIT = "3 · A picture is a sentence of patches (ViT)"
M_LLAVA = "4 · From image features to an LLM (LLaVA)"
M_TRAIN = "5 · Train a tiny CLIP yourself, live"
A_LOOP = "The loop, step by step"
A_POLICY = "Could the tiny LM be the policy?"
A_HOSTILE = "Hostile input, run live"
A_BM25 = "The math of the search tool: BM25"
A_TOOLS = "Try a tool: a small offline web, conversions, dates, and code in a box"
R_COSINE = "The math: cosine similarity is an inner product"
R_CHUNKS = "Trade-offs of chunk size and overlap"
R_INDEX = "faiss indexes on real MiniLM embeddings"
R_LONG = "Long context: more is not always better"
R_SCORED = "Sparse, dense and hybrid retrieval, scored"
R_RERANK = "Reranking: a second, slower look"
R_GROUNDED = "A grounded answer with citations"
R_ROPE = "Stretching RoPE past the trained length"
R_MASKS = "Sliding-window and sparse attention"
R_NEEDLE = "A needle in a haystack"
MATH = "The math"

VASWANI = "Vaswani et al. 2017 (arXiv 1706.03762)"

GLOSSARY: tuple[Entry, ...] = (
    # ---- Transformer ------------------------------------------------------------------------------
    Entry("token", "A piece of text (a word, part of a word, a byte or a special symbol) that the model reads "
          "as one integer id from a fixed vocabulary.", "Transformer", T_TOKENS),
    Entry("tokenizer", "The program that cuts text into tokens and maps them to ids and back; it is learned from "
          "text before the model is trained.", "Transformer", T_TOKENS),
    Entry("WordPiece", "BERT's subword tokenizer: it spells a word from the longest pieces in its vocabulary, "
          "marking pieces that continue a word with ##; uncased BERT also lowercases, strips accents and "
          "isolates every CJK ideograph (not kana or Hangul) as a token of its own.", "Transformer", T_TOKENS,
          "Devlin et al. 2018 (arXiv 1810.04805)"),
    Entry("special token", "A vocabulary entry that is not text: BERT opens every input with [CLS], closes it "
          "with [SEP] and writes [UNK] for what it cannot spell.", "Transformer", T_TOKENS,
          aliases=("[CLS]", "[SEP]", "[UNK]")),
    Entry("embedding", "The learned vector a token id is looked up to, one row of the embedding matrix (V × C) "
          "per vocabulary entry; the model computes on these vectors, never on ids.", "Transformer", T_TOKENS,
          aliases=("embedding matrix", "embedding table")),
    Entry("attention", "Each token's new representation is a weighted average of the value vectors of the "
          "tokens it looks at, the weights being a softmax of query · key scores.", "Transformer", T_MAPS,
          VASWANI, ("self-attention",)),
    Entry("attention map", "The T × T matrix of one head's attention weights: row t is a probability "
          "distribution over the tokens that token t looks at.", "Transformer", T_MAPS),
    Entry("attention head", "One of H attentions that run side by side in a layer, each with its own query, key "
          "and value projections of size D = C / H; different heads learn different relations.",
          "Transformer", T_MAPS, aliases=("head",)),
    Entry("model view", "Every attention map of a model at once, one row per layer and one column per head (6 × 12 "
          "for MiniLM): the quickest way to spot heads that attend to the previous token or park on [SEP].",
          "Transformer", T_MAPS, "Vig 2019 (arXiv 1906.05714)"),
    Entry("head view", "One layer's attention drawn as lines from each query token to the key tokens it looks at, "
          "as opaque as the weight, one colour per head, heads toggled on and off (BertViz).", "Transformer",
          T_MAPS, "Vig 2019 (arXiv 1906.05714)", ("BertViz",)),
    Entry("query, key and value", "Three vectors projected from each token's hidden state: the query says what "
          "the token looks for, the key what it offers, the value what it hands over when chosen.",
          "Transformer", T_SCRATCH, VASWANI, ("query", "key", "value", "Q, K, V")),
    Entry("hidden state", "The vector of C numbers a layer outputs for each token; the next layer reads it, and "
          "the last one feeds the output head.", "Transformer", T_SCRATCH),
    Entry("scaled dot-product attention", "softmax(QKᵀ/√D + M)·V; dividing by √D keeps the scores' variance "
          "near 1, so the softmax does not saturate into one-hot rows with vanishing gradients.",
          "Transformer", T_SCRATCH, VASWANI, ("√D scaling",)),
    Entry("causal mask", "M = −∞ above the diagonal of the score matrix, so token t sees only tokens 1..t; it "
          "lets a decoder learn every next-token prediction of a sequence in one pass.", "Transformer", T_SCRATCH),
    Entry("multi-head attention", "H heads of dimension D = C / H whose outputs are concatenated and mixed by "
          "W_O; the projections cost 4·C² weights, exactly as one head of size C would.", "Transformer", MATH,
          VASWANI, ("MHA",)),
    Entry("output projection", "W_O, the C × C matrix after attention: it takes the heads' outputs side by side "
          "(T × C) and mixes them into one T × C output, which the residual adds to the input (BERT's "
          "attention.output.dense, Llama's o_proj).", "Transformer", T_SCRATCH, VASWANI, ("W_O", "o_proj")),
    Entry("encoder", "A Transformer whose tokens all see each other (no mask), such as BERT or MiniLM: suited to "
          "understanding and embeddings, not to generating text.", "Transformer", MATH),
    Entry("decoder", "A Transformer with a causal mask, such as GPT or Llama, trained to predict each next token "
          "and used to generate text one token at a time.", "Transformer", MATH, aliases=("decoder-only",)),
    Entry("logit", "The raw, unnormalised score a model gives each vocabulary entry; the softmax turns the "
          "logits into probabilities.", "Transformer", T_NEXT),
    Entry("softmax", "p_i = exp(z_i) / Σ_j exp(z_j): turns any vector of scores into positive probabilities that "
          "sum to 1, keeping their order.", "Transformer", T_NEXT),
    Entry("entropy", "−Σ p·log₂ p, in bits: how spread a distribution is; 0 for a certain choice, log₂ V for a "
          "uniform one over V tokens (12 bits for 4,096).", "Transformer", T_NEXT),
    Entry("RoPE", "Rotary position embedding: rotates pairs of query and key dimensions by angles proportional to "
          "the position, so their dot product depends on positions only through their distance; Llama and the "
          "tiny LM use it.", "Transformer", T_NEXT, "Su et al. 2021 (arXiv 2104.09864)",
          ("rotary position embedding",)),
    # ---- Pretraining ------------------------------------------------------------------------------
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
    # ---- Fine-tuning ------------------------------------------------------------------------------
    Entry("fine-tuning", "Training a pretrained model further on task data; full fine-tuning updates every weight "
          "and needs a gradient and optimizer state for each.", "Fine-tuning", aliases=("full fine-tuning",)),
    Entry("SFT", "Supervised fine-tuning on prompt/response pairs (instruction tuning); the standard recipe masks "
          "the prompt, so the loss covers the response tokens only.", "Fine-tuning",
          "Instruction tuning: the loss on the response", aliases=("supervised fine-tuning", "instruction tuning")),
    Entry("LoRA", "Low-rank adaptation: freeze W and train ΔW = (α/r)·B·A, B (d_out × r) and A (r × d_in), "
          "r·(d_in + d_out) parameters instead of d_in·d_out.", "Fine-tuning", MATH,
          "Hu et al. 2021 (arXiv 2106.09685)", ("low-rank adaptation",)),
    Entry("LoRA rank", "r, the inner dimension of B·A: it caps the rank of the update and sets its cost, 2·d·r "
          "parameters for a d × d matrix.", "Fine-tuning", MATH, aliases=("rank",)),
    Entry("LoRA alpha", "α in (α/r)·B·A: it keeps the update's size roughly fixed when r changes, so the learning "
          "rate need not be retuned.", "Fine-tuning", MATH, aliases=("alpha",)),
    Entry("adapter", "A small trainable module added to a frozen model (bottleneck layers between sublayers, or "
          "LoRA's low-rank matrices beside a weight); one base model can carry many.", "Fine-tuning", MATH,
          "Houlsby et al. 2019 (arXiv 1902.00751)"),
    Entry("LoRA merge", "Adding (α/r)·B·A into W after training: one matrix again, so inference costs nothing "
          "extra.", "Fine-tuning", MATH, aliases=("merge_and_unload",)),
    Entry("QLoRA", "LoRA adapters trained in 16-bit on a base model frozen in 4-bit NF4: a 65B model fine-tuned "
          "on one 48 GB GPU.", "Fine-tuning", MATH, "Dettmers et al. 2023 (arXiv 2305.14314)"),
    Entry("Adam", "The usual optimizer: two running averages (moments) per trainable parameter give each its own "
          "step size, so its state is twice the trainable parameters.", "Fine-tuning", "Memory",
          "Kingma and Ba 2014 (arXiv 1412.6980)", ("optimizer state", "AdamW")),
    Entry("gradient", "The derivative of the loss with respect to a weight; backpropagation computes one for "
          "every trainable parameter.", "Fine-tuning", "Memory"),
    Entry("activation memory", "The intermediate values the forward pass keeps for the backward pass; LoRA still "
          "stores most of them, because gradients must flow back through every layer.", "Fine-tuning", "Memory",
          aliases=("activations",)),
    Entry("held-out set", "Examples never trained on, used to tell whether a model generalises or memorises.",
          "Fine-tuning", "Loss", aliases=("held out",)),
    Entry("PEFT", "Parameter-efficient fine-tuning: freeze the pretrained weights and train a small set of new or "
          "selected parameters (LoRA, adapters, prompts, IA³), a fraction of a percent of the model.", "Fine-tuning",
          "PEFT families on one task", aliases=("parameter-efficient fine-tuning",)),
    Entry("DoRA", "Weight-decomposed LoRA: W' = m · (W + BA) / ‖W + BA‖ per column, training a magnitude m beside "
          "LoRA's direction update; merges into W like LoRA.", "Fine-tuning", "PEFT families on one task",
          "Liu et al. 2024 (arXiv 2402.09353)"),
    Entry("IA³", "Learned vectors that rescale the keys, the values and the MLP's hidden activations: a few "
          "thousand parameters, and a diagonal change of W that merges into it.", "Fine-tuning",
          "PEFT families on one task", "Liu et al. 2022 (arXiv 2205.05638)", ("IA3",)),
    Entry("prompt tuning", "Learning n virtual token embeddings placed before every input, the model frozen: "
          "n·C parameters, paid for in context on every query.", "Fine-tuning", "PEFT families on one task",
          "Lester et al. 2021 (arXiv 2104.08691)", ("soft prompt",)),
    Entry("prefix tuning", "Learning n virtual keys and values for the attention of every layer, the model frozen; "
          "every token can attend to them.", "Fine-tuning", "PEFT families on one task",
          "Li and Liang 2021 (arXiv 2101.00190)"),
    Entry("LLaMA-Adapter", "Learned prompt vectors that the top layers' attention reads through a gate starting "
          "at zero, so training starts at the pretrained model.", "Fine-tuning", "PEFT families on one task",
          "Zhang et al. 2023 (arXiv 2303.16199)", ("adaption prompt",)),
    Entry("double quantization", "Quantizing the quantization constants: NF4's per-block scales stored in 8 bits "
          "with one FP32 scale per 256 of them, about 4.127 bits per weight instead of 4.5.", "Fine-tuning",
          "QLoRA: LoRA on a 4-bit base", "Dettmers et al. 2023 (arXiv 2305.14314)"),
    Entry("chat template", "The fixed text format a chat model was tuned on (roles, separators, end-of-turn "
          "tokens), kept with its tokenizer and applied by apply_chat_template.", "Fine-tuning",
          "Instruction tuning: the loss on the response"),
    Entry("loss mask", "Labels set to -100 on the tokens the loss must ignore, such as the prompt in SFT: the model "
          "reads them but is not trained to write them.", "Fine-tuning",
          "Instruction tuning: the loss on the response", aliases=("response mask",)),
    Entry("reward model", "A network scoring a response to a prompt with one number, trained on human preference "
          "pairs; RLHF optimises the policy against it.", "Fine-tuning", "Preference tuning: reward model and DPO",
          "Ouyang et al. 2022 (arXiv 2203.02155)"),
    Entry("Bradley-Terry model", "P(y_w preferred to y_l) = σ(r_w − r_l): only reward differences matter; its loss "
          "−log σ(r_w − r_l) trains reward models and, with implicit rewards, DPO.", "Fine-tuning",
          "Preference tuning: reward model and DPO", "Bradley and Terry 1952", ("Bradley-Terry loss",)),
    Entry("RLHF", "Reinforcement learning from human feedback: SFT, then a reward model fit to preferences, then "
          "PPO against that reward with a KL penalty to the SFT model.", "Fine-tuning",
          "Preference tuning: reward model and DPO", "Ouyang et al. 2022 (arXiv 2203.02155)",
          ("reinforcement learning from human feedback",)),
    Entry("PPO", "Proximal policy optimization: a policy-gradient method whose clipped objective keeps each update "
          "close to the previous policy; RLHF's third stage.", "Fine-tuning",
          "Preference tuning: reward model and DPO", "Schulman et al. 2017 (arXiv 1707.06347)",
          ("proximal policy optimization",)),
    Entry("DPO", "Direct preference optimization: the Bradley-Terry loss on β·log π/π_ref of chosen and rejected "
          "answers, training the policy on preference pairs without a reward model or RL.", "Fine-tuning",
          "Preference tuning: reward model and DPO", "Rafailov et al. 2023 (arXiv 2305.18290)",
          ("direct preference optimization",)),
    Entry("KL penalty", "A cost on the KL divergence from the tuned policy to the reference model, keeping it close "
          "to what it knew; β sets its weight in RLHF and DPO.", "Fine-tuning",
          "Preference tuning: reward model and DPO", aliases=("KL divergence",)),
    Entry("few-shot prompting", "Putting worked examples in the prompt so the model infers the task in context, "
          "without training; it works well only in large models.", "Fine-tuning",
          "Guide: prompting, RAG, fine-tuning or PEFT?", "Brown et al. 2020 (arXiv 2005.14165)",
          ("in-context learning", "few-shot")),
    # ---- Inference --------------------------------------------------------------------------------
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
    # ---- Multimodal -------------------------------------------------------------------------------
    Entry("CLIP", "An image encoder and a text encoder trained together so that matching pictures and captions "
          "get similar unit vectors.", "Multimodal", M_CLIP, "Radford et al. 2021 (arXiv 2103.00020)"),
    Entry("contrastive learning", "Learning by comparison: pull matching pairs together and push the other pairs "
          "of the batch apart, with no labels beyond the pairing.", "Multimodal", M_CLIP,
          aliases=("contrastive loss",)),
    Entry("InfoNCE", "Cross-entropy of picking the matching pair among the batch; CLIP applies it to the rows and "
          "the columns of the B × B similarity matrix, and chance gives ln B.", "Multimodal", M_CLIP,
          "van den Oord et al. 2018 (arXiv 1807.03748)"),
    Entry("logit scale", "CLIP's learned factor exp(t) on cosine similarities before the softmax, an inverse "
          "temperature: it starts at 1/0.07 ≈ 14.3 and is capped at 100.", "Multimodal", M_CLIP,
          aliases=("learned temperature",)),
    Entry("zero-shot classification", "Classify with labels chosen at test time: embed one prompt per label and "
          "pick the prompt most similar to the picture, with no classifier trained.", "Multimodal", M_ZERO,
          aliases=("zero-shot",)),
    Entry("ViT", "Vision Transformer: cut the image into patches, project each to a token, add position "
          "embeddings and a [CLS] token, and run a standard Transformer encoder.", "Multimodal", M_VIT,
          "Dosovitskiy et al. 2020 (arXiv 2010.11929)", ("Vision Transformer",)),
    Entry("ViT patch", "A P × P square of the image flattened to P²·3 numbers and projected by one matrix E to a "
          "token; a 224 × 224 image with P = 16 gives 196 of them.", "Multimodal", M_VIT,
          aliases=("patch", "patch token")),
    Entry("position embedding", "A vector added to each token's embedding to say where it sits, learned (BERT, "
          "ViT) or fixed; attention by itself ignores order.", "Multimodal", M_VIT,
          aliases=("positional encoding",)),
    Entry("modality gap", "In a contrastively trained space, picture embeddings and text embeddings tend to sit in "
          "two separate regions (cones), even when matching pairs are each other's nearest neighbours.",
          "Multimodal", M_TRAIN, "Liang et al. 2022 (arXiv 2203.02053)"),
    Entry("LLaVA", "A vision-language model: CLIP patch features, mapped by a trained projection into an LLM's "
          "word-embedding space, are read by the LLM as tokens in front of the text.", "Multimodal", M_LLAVA,
          "Liu et al. 2023 (arXiv 2304.08485)"),
    Entry("projector", "The trained map (a matrix in LLaVA, a 2-layer MLP in LLaVA-1.5) from image features to the "
          "LLM's embedding space.", "Multimodal", M_LLAVA, aliases=("multimodal projector",)),
    Entry("cross-entropy", "−log of the probability a model gave the right answer, averaged over examples: the loss "
          "of language models and of CLIP; its exponential over tokens is the perplexity.", "Multimodal", MATH),
    # ---- Agents -----------------------------------------------------------------------------------
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
    # ---- RAG & long context -----------------------------------------------------------------------
    Entry("RAG", "Retrieval-augmented generation: retrieve passages relevant to the question and put them in the "
          "prompt, so the model answers from them and can cite them.", "RAG & long context", "",
          "Lewis et al. 2020 (arXiv 2005.11401)", ("retrieval-augmented generation",)),
    Entry("chunk", "A passage a document is cut into before embedding; the unit that retrieval returns.",
          "RAG & long context", R_CHUNKS, aliases=("chunking",)),
    Entry("chunk overlap", "Characters shared by consecutive chunks, so a sentence cut at a boundary is still "
          "whole in one of them; it costs embedding that text twice.", "RAG & long context", R_CHUNKS,
          aliases=("overlap",)),
    Entry("sentence embedding", "One fixed-length vector for a whole text, close to the vectors of texts with a "
          "similar meaning.", "RAG & long context", R_COSINE, "Reimers and Gurevych 2019 (arXiv 1908.10084)",
          ("Sentence-BERT",)),
    Entry("mean pooling", "Averaging the token vectors of a text (padding left out) into one vector; MiniLM then "
          "normalises it to length 1.", "RAG & long context", R_COSINE),
    Entry("cosine similarity", "q·x / (|q|·|x|), from −1 to 1; for unit vectors it is the plain inner product.",
          "RAG & long context", R_COSINE, aliases=("cosine",)),
    Entry("faiss", "A library of vector indexes (flat, IVF, PQ, HNSW) for nearest-neighbour search.",
          "RAG & long context", R_INDEX, "Douze et al. 2024 (arXiv 2401.08281)"),
    Entry("flat index", "Compares the query with every stored vector: exact search, recall 1, time and memory "
          "linear in N.", "RAG & long context", R_INDEX, aliases=("IndexFlatIP",)),
    Entry("HNSW", "Hierarchical navigable small world graph: a greedy walk down layered proximity graphs; M links "
          "per node and efSearch candidates trade memory and speed against recall.", "RAG & long context", R_INDEX,
          "Malkov and Yashunin 2016 (arXiv 1603.09320)", ("efSearch",)),
    Entry("IVF", "Inverted file index: cluster the vectors (about √N lists) and search only the nprobe lists "
          "whose centroids are nearest the query.", "RAG & long context", R_INDEX, aliases=("inverted file",)),
    Entry("PQ", "Product quantization: split a vector into sub-vectors and store each as the id of its nearest "
          "centroid, one byte each, so scores become approximate.", "RAG & long context", R_INDEX,
          "Jégou et al. 2011", ("product quantization", "IVF-PQ")),
    Entry("recall@k", "The fraction of the exact k nearest neighbours that an approximate search also returns.",
          "RAG & long context", R_INDEX, aliases=("recall at k",)),
    Entry("MRR", "Mean reciprocal rank: the average over questions of 1 / (rank of the first relevant result), "
          "0 when it is not retrieved.", "RAG & long context", R_SCORED, aliases=("mean reciprocal rank",)),
    Entry("RRF", "Reciprocal rank fusion: add up 1 / (c + rank) of a document over several rankings (c = 60), so "
          "keyword and embedding search combine without comparing their scores.", "RAG & long context", R_SCORED,
          "Cormack et al. 2009", ("reciprocal rank fusion",)),
    Entry("hybrid search", "Retrieval that fuses a sparse ranking (BM25, exact words) with a dense one (embeddings, "
          "meaning), usually by RRF, so each covers the other's misses.", "RAG & long context", R_SCORED,
          aliases=("hybrid retrieval", "dense retrieval", "sparse retrieval")),
    Entry("cross-encoder", "A model that reads the question and one passage together and outputs a relevance "
          "score: more accurate than comparing embeddings, but one forward pass per pair, so it only re-ranks a "
          "shortlist.", "RAG & long context", R_RERANK, "Nogueira and Cho 2019 (arXiv 1901.04085)",
          ("reranker", "reranking", "bi-encoder")),
    Entry("extractive answer", "An answer quoted from the retrieved passages (here the sentence most similar to "
          "the question) instead of generated, cited by the passage it came from.", "RAG & long context",
          R_GROUNDED, aliases=("citation", "grounded answer")),
    Entry("position interpolation", "Extending a RoPE model's context by dividing every rotation frequency by s, "
          "so positions up to s times the trained length reuse the angles seen in training.", "RAG & long context",
          R_ROPE, "Chen et al. 2023 (arXiv 2306.15595)"),
    Entry("NTK-aware scaling", "Extending RoPE by raising its base to b·s^(D/(D−2)): the fastest rotations stay, "
          "the slowest are divided by s, smoothly in between.", "RAG & long context", R_ROPE,
          aliases=("NTK scaling",)),
    Entry("YaRN", "RoPE extension that keeps the fast rotations, interpolates the slow ones with a ramp in "
          "between, and sharpens attention by (0.1·ln s + 1)².", "RAG & long context", R_ROPE,
          "Peng et al. 2023 (arXiv 2309.00071)"),
    Entry("sliding-window attention", "Each token attends only to the last w tokens: cost linear in the context, "
          "and L layers still carry information L·(w − 1) tokens back.", "RAG & long context", R_MASKS,
          "Beltagy et al. 2020 (arXiv 2004.05150)", ("sliding window", "local attention")),
    Entry("sparse attention", "Attention over a fixed subset of key positions (local, strided, a few global "
          "tokens) instead of all of them, to cut the T² cost.", "RAG & long context", R_MASKS,
          "Child et al. 2019 (arXiv 1904.10509)", ("strided attention",)),
    Entry("needle in a haystack", "A long-context test: hide one out-of-place fact at some depth of unrelated text "
          "and ask a question only it answers.", "RAG & long context", R_NEEDLE, "Kamradt 2023"),
    Entry("context window", "The most tokens a model reads at once; attention cost grows with its square and the "
          "KV cache linearly.", "RAG & long context", R_LONG, aliases=("context length",)),
    Entry("lost in the middle", "Models use a passage best at the start or the end of a long prompt and worst in "
          "the middle: accuracy is U-shaped in its position.", "RAG & long context", R_LONG,
          "Liu et al. 2023 (arXiv 2307.03172)"),
)
