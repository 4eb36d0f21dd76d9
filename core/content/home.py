"""The landing page's words: what each page teaches and the three learning paths."""

PAGE_FILES = {
    "Transformer": "pages/transformer.py",
    "Pretraining": "pages/pretraining.py",
    "Fine-tuning": "pages/fine_tuning.py",
    "Inference": "pages/inference.py",
    "Multimodal": "pages/multimodal.py",
    "Agents": "pages/agents.py",
    "RAG & long context": "pages/rag.py",
}

PAGE_SUMMARIES = {
    "Transformer": "tokenization by a real WordPiece tokenizer, the attention maps of a real pretrained "
                   "encoder (every layer and head), and the next-token probabilities of a tiny Llama.",
    "Pretraining": "train a BPE tokenizer live on the bundled corpus and see how vocabulary size trades "
                   "against characters per token.",
    "Fine-tuning": "full fine-tuning against LoRA on the tiny Llama: trainable parameters, step time, "
                   "memory and loss curves side by side.",
    "Inference": "the KV cache on and off, and FP32 / INT8 / 4-bit quantization: size, latency and "
                 "perplexity measured live.",
    "Multimodal": "a tiny CLIP: image/caption similarity, zero-shot classification, and images cut into "
                  "ViT patches.",
    "Agents": "a ReAct loop with a safe calculator and a search tool, every Thought, Action and "
              "Observation shown.",
    "RAG & long context": "chunk documents, embed them with MiniLM, index them with faiss, and see the top "
                          "chunks and the prompt a generator would get.",
}

LEARNING_PATHS = {
    "Beginner": [
        ("Transformer", "what a token is, and what attention looks at"),
        ("Pretraining", "how a tokenizer is learned from text"),
        ("Inference", "how a model picks the next word, and why a cache makes it fast"),
        ("RAG & long context", "how a model can look things up"),
    ],
    "Application developer": [
        ("Inference", "latency, memory and quality of quantized models"),
        ("Fine-tuning", "when LoRA is enough, and what it costs"),
        ("RAG & long context", "chunking, embeddings and vector search"),
        ("Agents", "tool use and its failure modes"),
    ],
    "Researcher": [
        ("Transformer", "attention heads of a real encoder, layer by layer"),
        ("Pretraining", "tokenizer training and compression"),
        ("Fine-tuning", "parameter-efficient methods measured"),
        ("Multimodal", "contrastive image/text training"),
        ("Inference", "KV cache, quantization and decoding, measured"),
    ],
}
