"""The RAG & long context page's closing questions (core.content.quizzes)."""
from core.content.quizzes.question import Question

QUESTIONS = [
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
]
