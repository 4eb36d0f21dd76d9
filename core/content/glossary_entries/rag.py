"""The glossary's entries for the RAG & long context page (core.content.glossary_entries)."""
from core.content.glossary_entries.entry import Entry

# the page's section headers the entries point at
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

ENTRIES = (
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
