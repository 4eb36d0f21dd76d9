"""Retrieval-augmented generation and long context: cut documents into chunks, embed them, index them,
find the right ones, score the finding, answer with citations, and measure what a long context costs.

Modules:
- chunking: fixed-size and sentence chunking with overlap, the bundled documents and labelled questions.
- retrieval: MiniLM embeddings, faiss indexes, search, recall against exact search and the assembled prompt.
- bm25: Okapi BM25, the sparse (keyword) retriever, as an inverted file.
- fusion: reciprocal rank fusion of a sparse and a dense ranking (hybrid search).
- evaluation: recall@k and MRR of BM25, dense and hybrid search on the labelled questions.
- indexes: faiss Flat, IVF, HNSW, PQ and IVF-PQ on real embeddings: recall, latency, memory, knobs swept.
- grounding: hybrid retrieval for a question and an extractive answer cited by its chunk.
- long_context: attention time and memory measured as the context grows, against T².
- rope_scaling: position interpolation, NTK-aware scaling and YaRN, and tiny-lm's perplexity by position.
- attention_masks: causal, sliding-window, dilated, strided and global attention masks and their costs.
- needle: a needle in a haystack for the retriever, at every depth.
"""
