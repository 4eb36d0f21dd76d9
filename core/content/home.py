"""The landing page's words: what each page teaches and the three learning paths, as deep links."""
from dataclasses import dataclass
from urllib.parse import urlencode

PAGE_FILES = {
    "Transformer": "app_pages/transformer.py",
    "Pretraining": "app_pages/pretraining.py",
    "Fine-tuning": "app_pages/fine_tuning.py",
    "Inference": "app_pages/inference.py",
    "Multimodal": "app_pages/multimodal.py",
    "Agents": "app_pages/agents.py",
    "RAG & long context": "app_pages/rag.py",
}

PAGE_SUMMARIES = {
    "Transformer": "tokenization by a real WordPiece tokenizer, the attention maps of a real pretrained "
                   "encoder (every layer and head), a toy attention lab, positions and RoPE, one block traced, "
                   "and the logit lens on a tiny Llama.",
    "Pretraining": "train a BPE tokenizer live, clean a noisy corpus with MinHash dedup, compare tokenizers "
                   "and objectives, train a tiny GPT from scratch, then scaling laws and parallelism.",
    "Fine-tuning": "full fine-tuning against LoRA on the tiny Llama, every PEFT family in one table, QLoRA, "
                   "instruction tuning with the loss masked, a reward model and DPO, measured side by side.",
    "Inference": "decoding strategies step by step, the KV cache on and off, FP32 / INT8 / 4-bit quantization, "
                 "speculative decoding, continuous batching, and where a decode step's time goes, measured live.",
    "Multimodal": "a tiny CLIP: image/caption similarity, zero-shot classification, images cut into ViT "
                  "patches, a tiny LLaVA that answers questions about your picture, and a CLIP trained live.",
    "Agents": "a ReAct loop with safe tools (calculator, search, an offline web, code in a box), driven by a "
              "script, by you or by a tiny tool LM, every step shown; prompt injection measured.",
    "RAG & long context": "chunk documents, embed them with MiniLM, index them with faiss, and see the top "
                          "chunks and the prompt a generator would get; BM25, dense and hybrid retrieval scored on "
                          "labelled questions; faiss indexes on real embeddings; a cited answer; long context "
                          "measured.",
}

PAGE_URLS = {  # st.Page url_path of each page (Home.py)
    "Transformer": "transformer", "Pretraining": "pretraining", "Fine-tuning": "fine_tuning",
    "Inference": "inference", "Multimodal": "multimodal", "Agents": "agents", "RAG & long context": "rag",
}


@dataclass(frozen=True)
class Stop:
    """One stop on a learning path: a deep link (page + URL settings) with "try this, expect that"."""
    page: str
    params: tuple  # (key, value) pairs of the page's URL parameters: the link opens this exact view
    what: str  # what the stop teaches
    try_this: str
    expect: str

    def query(self) -> dict:
        return dict(self.params)

    def url(self) -> str:
        """Relative URL of the view, e.g. 'inference?section=KV+cache'."""
        return PAGE_URLS[self.page] + (("?" + urlencode(self.query())) if self.params else "")


LEARNING_PATHS = {
    "Beginner": [
        Stop("Transformer", (("sentence", "The cat sat on the mat because it was tired."), ("layer", 1), ("head", 1)),
             "what a token is, and what attention looks at",
             "Read how WordPiece splits the sentence, then move the layer slider from 1 to 6.",
             "Early layers attend to neighbours and [CLS]/[SEP]; later heads link words that belong together."),
        Stop("Transformer", (("prompt", "And God said, Let there be"), ("temperature", 1.0)),
             "how a model picks the next word",
             "Drag the temperature from 0.2 to 2.",
             "Low temperature puts almost all probability on one token; high temperature flattens the bars."),
        Stop("Pretraining", (("vocab", 1000),),
             "how a tokenizer is learned from text",
             "Train with a vocabulary of 300, then 4,000.",
             "A bigger vocabulary packs more characters into each token: fewer tokens for the same text."),
        Stop("Pretraining", (("p_section", "Train a tiny GPT"), ("gpt_preset", "nano")),
             "a language model learning from scratch",
             "Press Train and watch the loss curve and the samples at each checkpoint.",
             "The loss starts near ln 4,096 ≈ 8.3 (a uniform guess) and falls; the samples turn from random "
             "pieces into words, then into verse-like text."),
        Stop("Inference", (("section", "Decoding"),),
             "greedy, sampling, top-k and top-p, step by step",
             "Switch the strategy from greedy to top-p and change the seed.",
             "Greedy always writes the same text; sampling changes with the seed."),
        Stop("Inference", (("section", "KV cache"),),
             "why a cache makes generation fast",
             "Run the timing with and without the cache.",
             "Without the cache every new token recomputes the whole prefix, so later tokens get slower."),
        Stop("RAG & long context", (("size", 400), ("overlap", 80), ("k", 4)),
             "how a model can look things up",
             "Ask your own question and read the top chunks.",
             "The chunks with the highest cosine similarity share meaning with the question, not only words."),
        Stop("Agents", (("task", "gpt3_per_layer"), ("policy", "scripted")),
             "a model that uses tools",
             "Follow each Thought, Action and Observation.",
             "The agent searches for the numbers, then calls the calculator instead of guessing."),
    ],
    "Application developer": [
        Stop("Inference", (("section", "Quantization"),),
             "latency, memory and quality of quantized models",
             "Look at the weight histogram of NF4, then INT8.",
             "NF4 has 16 levels packed densely near zero, where most weights are; INT8 has 255 evenly spaced."),
        Stop("Inference", (("section", "Serving"),),
             "how a server batches many users",
             "Compare static and continuous batching on the same trace.",
             "Continuous batching keeps the batch full, so throughput rises and KV memory is used far better."),
        Stop("Fine-tuning", (("ft_rank", 8), ("ft_modules", "qv")),
             "when LoRA is enough, and what it costs",
             "Compare the trainable parameters of full fine-tuning and LoRA, then train both.",
             "LoRA trains a small fraction of the weights and still lowers the task loss."),
        Stop("Fine-tuning", (("f_section", "QLoRA"),),
             "fine-tuning a model too big for your GPU",
             "Read the memory arithmetic for LLaMA 65B, then train LoRA and QLoRA on tiny-lm.",
             "The 4-bit base brings 65B under one 48 GB GPU; on a CPU QLoRA is slower, since it trades time for "
             "memory."),
        Stop("Fine-tuning", (("f_section", "Guide"),),
             "prompting, RAG, fine-tuning or PEFT",
             "Move the few-shot slider, then read when each approach wins.",
             "Examples in the prompt barely help a 3M-parameter model; knowledge belongs in retrieval, behaviour "
             "in fine-tuning."),
        Stop("RAG & long context", (("size", 200), ("overlap", 40), ("strategy", "sentence")),
             "chunking, embeddings and vector search",
             "Change the chunk size and the strategy, then look at the recall of each faiss index.",
             "Small chunks are precise but lose context; approximate indexes trade a little recall for speed."),
        Stop("RAG & long context", (("r_section", "Retrieval scored"), ("sc_w", 0.5)),
             "keyword, embedding and hybrid retrieval, scored",
             "Read recall@5 and MRR for BM25, dense and hybrid search, then move the dense weight from 0 to 1.",
             "Hybrid search beats both alone on the labelled questions; each wins questions the other misses."),
        Stop("Agents", (("task", "injection_kb"), ("policy", "gullible")),
             "tool use and its failure modes",
             "Run the planted document with the gullible policy, then the scripted one.",
             "The gullible policy obeys the injected instruction; the safe one treats tool output as data."),
        Stop("Multimodal", (("source", "generated"), ("shape", "circle"), ("colour", "red")),
             "zero-shot classification with CLIP",
             "Change the shape and colour of the picture.",
             "The most probable label prompt follows the picture without any classifier being trained."),
    ],
    "Researcher": [
        Stop("Transformer", (("layer", 6), ("head", 1)),
             "attention heads of a real encoder, layer by layer",
             "Step through the heads of the last layer.",
             "Heads specialise: some attend to the next token, some to punctuation, some to related words."),
        Stop("Pretraining", (("vocab", 4000),),
             "tokenizer training and compression",
             "Watch the BPE merges on a sentence, then the compression curve.",
             "Characters per token rises quickly with the first merges and then flattens."),
        Stop("Pretraining", (("p_section", "Scaling"), ("sc_budget", 23.8)),
             "compute-optimal training: the Chinchilla law and 6ND",
             "Move the compute budget, then add a live run of a tiny GPT to the measured sweep.",
             "Each budget has a best model size; published models sit far from about 20 tokens per parameter "
             "on both sides."),
        Stop("Pretraining", (("p_section", "Parallelism"), ("zero_psi", 7.5), ("zero_nd", 64)),
             "data, pipeline and tensor parallelism, and ZeRO",
             "Run data parallelism on two processes, then compare ZeRO's stages.",
             "The all-reduced gradient equals one process's full-batch gradient; ZeRO-3 cuts 120 GB per GPU to "
             "1.9 GB."),
        Stop("Fine-tuning", (("ft_rank", 32), ("ft_alpha", 64)),
             "parameter-efficient methods measured",
             "Raise the LoRA rank and train again.",
             "Trainable parameters grow linearly with the rank; the loss gains less and less."),
        Stop("Fine-tuning", (("f_section", "PEFT families"), ("pf_steps", 15)),
             "every PEFT family on one task",
             "Train all eight, then sort the chart by trainable parameters and by held-out loss.",
             "Trainable counts span three orders of magnitude and match the hand formulas; merged LoRA and IA³ "
             "give the same outputs as unmerged, at the base model's speed."),
        Stop("Fine-tuning", (("f_section", "Preference tuning"), ("dpo_beta", 0.1)),
             "reward models and DPO",
             "Train the reward model, then run SFT and DPO with β = 0.1, then with β = 1.",
             "DPO starts at loss log 2 with every margin 0; margins and batch preference accuracy rise within a "
             "few steps, and the larger β keeps the policy closer to the reference (a smaller KL)."),
        Stop("Inference", (("section", "Speculative decoding"), ("spec_k", 4)),
             "a draft model proposes, the target verifies",
             "Change k and read the acceptance rate.",
             "The output equals the target's own greedy text; the speed-up depends on acceptance and draft cost."),
        Stop("Inference", (("section", "Where the time goes"), ("wt_params", 70.0)),
             "where a decode step's time goes, and why speculative decoding needs a bandwidth-bound model",
             "Press “Measure where the time goes”, then read the verification cost r(T) and the 70B arithmetic.",
             "Our engine runs about 2.5 times fewer operations per token than generate; a pass over 5 tokens costs "
             "about 2 one-token passes here, while a 70B model on a GPU reads its 140 GB once per pass whatever T."),
        Stop("Inference", (("section", "KV cache"),),
             "the KV cache's memory for real model configurations",
             "Pick a model with grouped-query attention and a long context.",
             "KV bytes per token are 2 · layers · KV heads · head dim · bytes: GQA divides them by the group size."),
        Stop("Multimodal", (("batch", 8), ("view", "cosine")),
             "contrastive image/text training",
             "Compare the similarity matrix of the trained and the untrained CLIP.",
             "The trained model's diagonal stands out: each picture is closest to its own caption."),
        Stop("RAG & long context", (("r_section", "Vector indexes"), ("ix_m", 8), ("ix_ef", 2)),
             "approximate nearest-neighbour search on real embeddings",
             "Raise HNSW's efSearch from 2 to 64 and watch its recall against exact search, then sweep the knobs.",
             "Recall climbs towards 1.0 as efSearch grows; with a few hundred vectors flat search is as fast as any."),
        Stop("RAG & long context", (("r_section", "Long context"), ("lc_len", 512), ("lc_factor", 4)),
             "what a long context costs, and how RoPE models stretch to one",
             "Measure attention's cost on both models, then tiny-lm's perplexity by position with each RoPE scaling.",
             "Attention memory grows exactly as T²; past 128 tokens the scaled RoPEs change tiny-lm's perplexity."),
        Stop("Agents", (("task", "hostile_math"),),
             "what a tool must refuse",
             "Run the hostile expression.",
             "The calculator refuses before computing: a tool must be safe whatever the model writes."),
    ],
}
