"""The RAG page's deeper core: BM25, RRF, recall/MRR, faiss on real embeddings, the grounded answer, and long
context (cost, RoPE scaling, masks, needle). Hand-worked cases, independent computations, invariants."""
import math
import subprocess
import sys
from collections import Counter
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from core.charts import rag_depth as charts
from core.rag import attention_masks as masks
from core.rag import bm25, chunking, evaluation, fusion, grounding, indexes
from core.rag import long_context as lc
from core.rag import needle as nh
from core.rag import rope_scaling as rs
from core.rag.chunking import Chunk
from core.rag.retrieval import Hit, embed_texts


@pytest.fixture(scope="module")
def embedder():
    from core.models import load_sentence_embedder

    return load_sentence_embedder()


@pytest.fixture(scope="module")
def tiny_lm():
    from core.models import load_causal_lm

    return load_causal_lm("tiny-lm")


@pytest.fixture(scope="module")
def embedded(embedder):
    """The bundled documents at the page's default chunking, embedded once for the module, and the questions."""
    from core.rag.retrieval import embed_chunks

    chunks = embed_chunks(embedder, chunking.load_documents(), chunking.ChunkConfig(400, 80))
    return chunks, embed_texts(embedder, [q for q, _ in chunking.load_questions()])


def unit_vectors(n, dim=32, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# ---- the labelled questions ----------------------------------------------------------------------------------
def test_labelled_questions_are_many_unique_and_point_at_bundled_documents():
    questions = chunking.load_questions()
    names = {d.name for d in chunking.load_documents()}
    assert len(questions) >= 50
    assert len({q for q, _ in questions}) == len(questions)
    assert all(doc in names and q.strip().endswith("?") for q, doc in questions)
    assert {doc for _, doc in questions} == names  # every document answers some question
    assert max(Counter(doc for _, doc in questions).values()) <= 12  # no document dominates the score


# ---- BM25 ----------------------------------------------------------------------------------------------------
TEXTS = ["the kv cache stores keys and values", "keys keys keys and more keys", "a cache of values",
         "nothing relevant here at all, a long chunk of unrelated words about other matters entirely"]


def direct_bm25(texts, query, k1=1.5, b=0.75):
    """The formula written out with Counters, one document at a time: independent of core.rag.bm25's postings."""
    docs = [bm25.tokenize(t) for t in texts]
    n, avgdl = len(docs), sum(map(len, docs)) / len(docs)
    out = []
    for doc in docs:
        tf, score = Counter(doc), 0.0
        for w in bm25.tokenize(query):
            df = sum(w in d for d in docs)
            if tf[w] == 0:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            score += idf * tf[w] * (k1 + 1) / (tf[w] + k1 * (1 - b + b * len(doc) / avgdl))
        out.append(score)
    return np.array(out)


def test_bm25_hand_worked():
    assert bm25.tokenize("What does the KV cache store?") == ["kv", "cache", "store"]
    index = bm25.build(["kv cache", "cache"])
    np.testing.assert_array_equal(index.postings["cache"][0], [0, 1])
    assert index.avgdl == 1.5
    # 'kv' is in one of two docs: idf = ln(1 + 1.5/1.5) = ln 2; doc 0 has length 2 = 4/3 avgdl
    k1, b = 1.5, 0.75
    want = math.log(2) * 1 * (k1 + 1) / (1 + k1 * (1 - b + b * 2 / 1.5))
    assert bm25.scores(index, "kv", k1, b) == pytest.approx([want, 0.0])
    assert bm25.idf(10, 1) == pytest.approx(math.log(1 + 9.5 / 1.5))


@pytest.mark.parametrize("k1,b", [(1.5, 0.75), (0.0, 0.75), (1.2, 0.0), (2.0, 1.0)])
@pytest.mark.parametrize("query", ["keys and values", "kv cache", "cache cache values", "absent words only"])
def test_bm25_equals_the_direct_formula(query, k1, b):
    np.testing.assert_allclose(bm25.scores(bm25.build(TEXTS), query, k1, b), direct_bm25(TEXTS, query, k1, b),
                               rtol=1e-12, atol=1e-12)


def test_bm25_equals_the_agents_search_tool_on_the_bundled_chunks():
    """core.agents.tools implements BM25 separately (its own counts and loop): same scores on real chunks."""
    from core.agents.tools import bm25_scores, build_bm25

    chunks = chunking.chunk_documents(chunking.load_documents(), chunking.ChunkConfig(400, 80))
    texts = [c.text for c in chunks]
    ours = bm25.build(texts)
    theirs = build_bm25([bm25.tokenize(t) for t in texts])
    for question, _ in chunking.load_questions()[:20]:
        np.testing.assert_allclose(bm25.scores(ours, question), bm25_scores(theirs, bm25.tokenize(question)),
                                   rtol=1e-10, atol=1e-12)


def test_bm25_knobs_saturation_and_length():
    index = bm25.build(["x " * 10, "x " + "y " * 9])  # same length: only the count of x differs
    many, once = bm25.scores(index, "x", k1=1.5)
    assert many / once == pytest.approx(10 * 2.5 / 11.5)  # f(k1+1)/(f+k1) with f = 10 vs 1: saturates
    flat = bm25.scores(bm25.build(["x", "x " + "z " * 20]), "x", b=0.0)  # b = 0: length is ignored
    assert flat[0] == pytest.approx(flat[1])
    assert bm25.score_matrix(index, []).shape == (0, 2) and bm25.scores(bm25.build([]), "x").shape == (0,)


# ---- reciprocal rank fusion ----------------------------------------------------------------------------------
def test_rrf_hand_example():
    # BM25 ranks chunks a, b, c as 1, 2, 3; dense ranks b, c, a as 1, 2, 3. With c = 60 and equal weights:
    # a: 1/61 + 1/63, b: 1/62 + 1/61, c: 1/63 + 1/62, so b > a > c.
    sparse, dense = np.array([3.0, 2.0, 1.0]), np.array([0.1, 0.9, 0.5])
    fused = fusion.rrf_scores([fusion.ranking(sparse), fusion.ranking(dense)], [1.0, 1.0])
    want = [Fraction(1, 61) + Fraction(1, 63), Fraction(1, 62) + Fraction(1, 61), Fraction(1, 63) + Fraction(1, 62)]
    np.testing.assert_allclose(fused, [float(f) for f in want], rtol=1e-15)
    assert fusion.ranking(fused).tolist() == [1, 0, 2]
    assert fusion.hybrid_order(sparse, dense, 0.5).tolist() == [1, 0, 2]
    assert fusion.hybrid_order(sparse, dense, 0.0).tolist() == [0, 1, 2]  # BM25 alone
    assert fusion.hybrid_order(sparse, dense, 1.0).tolist() == [1, 2, 0]  # dense alone
    assert fusion.ranks_of(np.array([1, 0, 2])).tolist() == [2, 1, 3]
    assert fusion.ranking([0.1, 0.9, 0.1]).tolist() == [1, 0, 2]  # ties to the lower id


# ---- recall@k and MRR ----------------------------------------------------------------------------------------
def test_recall_and_mrr_hand_example():
    assert evaluation.first_relevant_rank(np.array([2, 0, 1]), ["a.md", "b.md", "a.md"], "b.md") == 3
    assert evaluation.first_relevant_rank(np.array([2, 0, 1]), ["a.md", "b.md", "a.md"], "a.md") == 1
    assert evaluation.first_relevant_rank(np.array([2, 0, 1]), ["a.md", "b.md", "a.md"], "c.md") == 0
    ranks = np.array([1, 3, 0])
    assert evaluation.recall_at_k(ranks, 1) == pytest.approx(1 / 3)
    assert evaluation.recall_at_k(ranks, 3) == pytest.approx(2 / 3)
    assert evaluation.mrr(ranks) == pytest.approx((1 + 1 / 3 + 0) / 3)


def test_evaluate_equals_an_independent_ranking():
    """Hand-made chunks and vectors: the method ranks equal ranks computed here with plain sorting."""
    texts = ["alpha beta", "gamma delta", "alpha gamma", "epsilon"]
    docs = ["a.md", "b.md", "a.md", "c.md"]
    vectors = unit_vectors(4, dim=8, seed=1)
    labelled = (("alpha question", "a.md"), ("delta question", "b.md"), ("epsilon question", "c.md"))
    qvec = unit_vectors(3, dim=8, seed=2)
    ev = evaluation.evaluate(texts, docs, vectors, labelled, qvec, dense_weight=0.5)
    for q, (question, want) in enumerate(labelled):
        sparse = direct_bm25(texts, question)
        dense = vectors @ qvec[q]
        for m, scores in ((0, sparse), (1, dense)):
            order = sorted(range(4), key=lambda i: (-scores[i], i))
            assert ev.first_ranks[m, q] == 1 + [docs[i] for i in order].index(want)
    table = pd.DataFrame(ev.table(2))
    assert list(table["method"]) == list(evaluation.METHODS)
    assert table["MRR"].tolist() == pytest.approx([evaluation.mrr(r) for r in ev.first_ranks])
    sweep = evaluation.weight_sweep(ev, 2, weights=(0.0, 1.0))  # the hybrid at its ends is each method alone
    assert sweep[0]["MRR"] == pytest.approx(evaluation.mrr(ev.first_ranks[0]))
    assert sweep[1]["MRR"] == pytest.approx(evaluation.mrr(ev.first_ranks[1]))
    curve = pd.DataFrame(ev.recall_curve(4))
    assert (curve.groupby("method")["recall"].apply(lambda r: (np.diff(r) >= 0).all())).all()  # recall@k grows


def test_hybrid_beats_each_method_alone_on_the_labelled_questions(embedded):
    chunks, questions = embedded
    ev = evaluation.evaluate([c.text for c in chunks.chunks], [c.doc for c in chunks.chunks], chunks.vectors,
                             chunking.load_questions(), questions)
    table = {row["method"]: row for row in ev.table(5)}
    assert table["hybrid (RRF)"]["MRR"] >= max(table["BM25"]["MRR"], table["dense (MiniLM)"]["MRR"])
    assert all(0.5 < row["recall@5"] <= 1.0 for row in table.values())


# ---- faiss on real embeddings --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_vectors(embedded):
    """(chunk vectors (N, C), queries: the labelled questions, then every chunk)."""
    chunks, questions = embedded
    return chunks.vectors, np.vstack([questions, chunks.vectors])


def test_exact_search_recall_is_one_and_exhaustive_ivf_too(real_vectors):
    vectors, queries = real_vectors
    n = len(vectors)
    rows = {r.kind: r for r in indexes.compare(vectors, queries, 10, indexes.IndexConfig(nlist=8, nprobe=8))}
    assert set(rows) == set(indexes.KINDS)
    assert rows["flat"].recall == 1.0 and rows["ivf"].recall == 1.0  # nprobe = nlist scans every list
    assert rows["ivfpq"].recall <= rows["ivf"].recall and rows["pq"].recall < 1.0  # codes blur the scores
    assert rows["flat"].bytes >= n * 384 * 4 and rows["flat"].code_bytes == 1536
    assert rows["pq"].code_bytes == indexes.pq_code_bytes(48, indexes.pq_bits_for(n))
    assert all(r.query_us > 0 and r.build_ms >= 0 for r in rows.values())


def test_index_knobs_move_recall_the_right_way(real_vectors):
    vectors, queries = real_vectors
    points = pd.DataFrame([vars(p) for p in indexes.sweep(vectors, queries, 10, indexes.IndexConfig(nlist=16))])
    for kind in ("hnsw", "ivf", "pq"):
        recall = points[points["kind"] == kind]["recall"].to_numpy()
        assert recall[-1] >= recall[0] and recall[-1] > 0.8, kind
    ivf = points[points["kind"] == "ivf"]
    assert ivf["value"].max() == 16 and ivf["recall"].iloc[-1] == 1.0  # all 16 lists: exact
    assert points[points["kind"] == "hnsw"]["recall"].iloc[-1] == pytest.approx(1.0, abs=0.01)


def test_index_helpers_and_budget():
    assert indexes.pq_bits_for(1000) == 8 and indexes.pq_bits_for(100) == 6 and indexes.pq_bits_for(256) == 8
    assert indexes.pq_code_bytes(48, 7) == 42 and indexes.pq_code_bytes(4, 7) == 4
    cfg = indexes.clamp_config(indexes.IndexConfig(nlist=64, nprobe=99, pq_m=5), 20)
    assert (cfg.nlist, cfg.nprobe, cfg.pq_m) == (20, 20, 48)
    scale = indexes.bytes_at_scale(1_000_000, hnsw_m=8, pq_bytes=48)
    assert scale["flat"] == 1_536_000_000 and scale["pq"] == 48_000_000
    with pytest.raises(ValueError, match="at most"):
        indexes.compare(unit_vectors(indexes.MAX_VECTORS + 1), unit_vectors(2))
    import faiss

    before = faiss.omp_get_max_threads()
    with indexes.one_thread():
        assert faiss.omp_get_max_threads() == 1
    assert faiss.omp_get_max_threads() == before


# ---- the grounded answer -------------------------------------------------------------------------------------
def _hits(texts):
    return tuple(Hit(r + 1, r, 1.0, Chunk(f"d{r}.md", 0, len(t), t)) for r, t in enumerate(texts))


def test_extractive_answer_is_the_most_similar_sentence(embedder):
    hits = _hits(["The KV cache stores keys and values of past tokens. It grows with the context.",
                  "Tokenizers cut text into pieces. BPE merges frequent pairs of symbols."])
    question = "What does the KV cache store?"
    ex = grounding.extract_answer(embedder, question, hits)
    sentences = [c.text for c in grounding.sentence_candidates(hits)]
    vectors = embed_texts(embedder, [question] + sentences)
    best = sentences[int(np.argmax(vectors[1:] @ vectors[0]))]  # computed here, independently
    assert ex.answer.text == best == "The KV cache stores keys and values of past tokens."
    assert ex.answer.citation == 1 and hits[0].chunk.text[ex.answer.start:ex.answer.end] == best
    assert grounding.cited_answer(ex) == best + " [1]"
    assert [c.score for c in ex.candidates] == sorted((c.score for c in ex.candidates), reverse=True)
    empty = grounding.extract_answer(embedder, question, _hits(["Short.", "Tiny."]))
    assert empty.answer is None and "do not know" in grounding.cited_answer(empty)


def test_grounded_retrieve_orders_by_each_method(embedder, embedded):
    chunks, vectors = embedded[0].chunks, embedded[0].vectors
    index = bm25.build([c.text for c in chunks])
    question = "How does PagedAttention store the cache?"
    query = embed_texts(embedder, [question])[0]
    sparse, dense = bm25.scores(index, question), vectors @ query
    for method, scores in (("BM25", sparse), ("dense (MiniLM)", dense)):
        hits = grounding.retrieve(chunks, vectors, index, query, question, 4, method)
        assert [h.chunk_id for h in hits] == list(np.argsort(-scores, kind="stable")[:4])
    hybrid = grounding.retrieve(chunks, vectors, index, query, question, 4)
    assert [h.chunk_id for h in hybrid] == fusion.hybrid_order(sparse, dense)[:4].tolist()
    assert hybrid[0].chunk.doc == "kv_cache.md"
    with pytest.raises(ValueError):
        grounding.retrieve(chunks, vectors, index, query, question, 4, "oracle")


# ---- long context: cost ------------------------------------------------------------------------------------
def test_attention_core_equals_torch_sdpa():
    import torch

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 3, 17, 8, generator=g) for _ in range(3))
    torch.testing.assert_close(lc.attention_core(q, k, v), torch.nn.functional.scaled_dot_product_attention(q, k, v),
                               atol=1e-5, rtol=1e-5)


def test_measured_attention_memory_is_layers_heads_t_squared(tiny_lm):
    model, tokenizer = tiny_lm
    eager = lc.eager_copy(model)
    assert model.config._attn_implementation != "eager" or eager is not model
    ids = rs.heldout_ids(tokenizer, 64)
    curve = lc.measure_cost(eager, ids, (16, 32, 64), "tiny-lm", reps=1)
    L, H, _ = lc.model_shape(model)
    assert [p.attention_bytes for p in curve.points] == [L * H * t * t * 4 for t in (16, 32, 64)]
    assert lc.growth_exponent([16, 32, 64], [p.attention_bytes for p in curve.points]) == pytest.approx(2.0)
    assert all(p.forward_ms > 0 and p.attention_ms > 0 for p in curve.points)
    with pytest.raises(ValueError):
        lc.measure_cost(eager, ids, (16, lc.MAX_TOKENS + 1), "tiny-lm")


def test_cost_helpers_hand_worked():
    np.testing.assert_allclose(lc.quadratic_reference([256, 512], 512, 40.0), [10.0, 40.0])
    assert lc.growth_exponent([1, 2, 4], [3, 6, 12]) == pytest.approx(1.0)
    assert lc.growth_exponent([1, 2, 4], [1, 4, 16]) == pytest.approx(2.0)


# ---- long context: RoPE scaling ------------------------------------------------------------------------------
def hf_inv_freq(rope_type: str, factor: float, seq_len=None, truncate=True, D=32, base=10000.0, original=128):
    """Hugging Face's own RoPE initialisers (transformers.modeling_rope_utils): the independent reference."""
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    params = {"rope_type": rope_type, "rope_theta": base, "factor": factor}
    if rope_type == "yarn":
        params.update(original_max_position_embeddings=original, truncate=truncate)
    cfg = LlamaConfig(hidden_size=D * 6, num_attention_heads=6, head_dim=D, max_position_embeddings=original,
                      rope_parameters=params)
    inv, attention = ROPE_INIT_FUNCTIONS[rope_type](cfg, None, seq_len=seq_len)
    return inv.double().numpy(), attention


@pytest.mark.parametrize("factor", [2.0, 4.0, 8.0])
def test_rope_scaling_equals_hugging_face(factor):
    D, base, L = 32, 10000.0, 128
    from core.transformer.positions import rope_inv_freq

    np.testing.assert_allclose(rs.default_inv_freq(D, base), rope_inv_freq(D, base), rtol=1e-12)
    np.testing.assert_allclose(rs.pi_inv_freq(D, base, factor), hf_inv_freq("linear", factor)[0], rtol=1e-6)
    # HF's dynamic NTK with factor 1 at seq_len = s·L is static NTK-aware scaling by s
    np.testing.assert_allclose(rs.ntk_inv_freq(D, base, factor), hf_inv_freq("dynamic", 1.0, seq_len=int(factor * L))[0],
                               rtol=1e-5)
    for truncate in (True, False):
        D_, = rs.yarn_ramp(D, base, L, truncate=truncate).shape
        assert D_ == D // 2
        inv, _ = hf_inv_freq("yarn", factor, truncate=truncate)
        gamma = rs.yarn_ramp(D, base, L, truncate=truncate)
        theta = rs.default_inv_freq(D, base)
        np.testing.assert_allclose((1 - gamma) * theta + gamma * theta / factor, inv, rtol=1e-5)
    np.testing.assert_allclose(rs.yarn_inv_freq(D, base, factor, L), hf_inv_freq("yarn", factor)[0], rtol=1e-5)
    assert rs.yarn_attention_factor(factor) == pytest.approx(hf_inv_freq("yarn", factor)[1])


def test_rope_scaling_hand_worked():
    np.testing.assert_allclose(rs.default_inv_freq(4, 100.0), [1.0, 0.1])
    D, base, s = 32, 10000.0, 4.0
    theta, ntk = rs.default_inv_freq(D, base), rs.ntk_inv_freq(D, base, s)
    assert ntk[0] == theta[0] == 1.0 and ntk[-1] / theta[-1] == pytest.approx(1 / s)  # why the exponent is D/(D-2)
    np.testing.assert_allclose(rs.pi_inv_freq(D, base, s) / theta, 1 / s)
    assert rs.yarn_attention_factor(1.0) == 1.0 and rs.yarn_attention_factor(math.e) == pytest.approx(1.1)
    assert rs.scaled_inv_freq("original", D, base, s, 128)[1] == 1.0
    with pytest.raises(ValueError):
        rs.scaled_inv_freq("magic", D, base, s, 128)
    table = pd.DataFrame(rs.frequency_table(D, base, s, 128))
    assert len(table) == 4 * D // 2 and set(table["method"]) == set(rs.METHODS)


def test_position_interpolation_on_tiny_lm_equals_the_original_at_scaled_positions(tiny_lm):
    """PI with factor s at positions 0, s, 2s, ... turns every pair exactly as the original at 0, 1, 2, ...:
    same logits. And the shared model is not changed."""
    import torch

    model, tokenizer = tiny_lm
    before = model.model.rotary_emb.inv_freq.clone()
    ids = torch.tensor([rs.heldout_ids(tokenizer, 24)])
    positions = torch.arange(24)[None]
    pi = rs.with_rope(model, "PI", 4.0, 128)
    with torch.no_grad():
        original = model(ids, position_ids=positions).logits
        stretched = pi(ids, position_ids=positions * 4).logits
    torch.testing.assert_close(stretched, original, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(model.model.rotary_emb.inv_freq, before)
    assert pi.model.rotary_emb.attention_scaling == 1.0
    assert rs.with_rope(model, "YaRN", 4.0, 128).model.rotary_emb.attention_scaling == pytest.approx(
        rs.yarn_attention_factor(4.0))


def test_perplexity_by_position_equals_a_direct_cross_entropy(tiny_lm):
    import torch

    model, tokenizer = tiny_lm
    ids = np.array(rs.heldout_ids(tokenizer, 2 * 64)).reshape(2, 64)
    result = rs.perplexity_by_position(model, ids, ("original",), 2.0, 128, bucket=16)
    batch = torch.tensor(ids)
    with torch.no_grad():
        logits = model(batch).logits[:, :-1]  # (S, T-1, V)
    nll = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten(), reduction="none")
    per_position = nll.view(2, 63).mean(0).numpy()  # (T-1,)
    want = [per_position[s - 1:s - 1 + 16].mean() for s in range(1, 64, 16)]
    np.testing.assert_allclose(result.nll[0], want, rtol=1e-4)
    assert result.bucket_start.tolist() == [1, 17, 33, 49] and result.perplexity.shape == (1, 4)
    assert 10 < float(np.exp(np.mean(per_position))) < 200  # tiny-lm's held-out perplexity is about 42
    with pytest.raises(ValueError):
        rs.perplexity_by_position(model, np.zeros((1, rs.MAX_EVAL_TOKENS + 1), dtype=int))


# ---- long context: masks -------------------------------------------------------------------------------------
def test_masks_hand_worked():
    assert masks.causal(3).sum() == 6 and masks.sliding_window(4, 2).sum() == 7
    np.testing.assert_array_equal(masks.sliding_window(5, 2)[4], [False, False, False, True, True])
    np.testing.assert_array_equal(masks.dilated_window(7, 3, 2)[6], [False, False, True, False, True, False, True])
    np.testing.assert_array_equal(masks.strided(9, 3)[8], [False, False, True, False, False, True, True, True, True])
    np.testing.assert_array_equal(masks.global_window(6, 2, 1)[5], [True, False, False, False, True, True])
    np.testing.assert_array_equal(masks.dilated_window(20, 4, 1), masks.sliding_window(20, 4))
    np.testing.assert_array_equal(masks.sliding_window(20, 20), masks.causal(20))
    with pytest.raises(ValueError):
        masks.causal(masks.MAX_T + 1)


@pytest.mark.parametrize("pattern", masks.PATTERNS)
def test_pair_counts_equal_the_drawn_masks(pattern):
    for T in (1, 2, 7, 16, 33, 64):
        for w, stride, n_global in ((1, 2, 0), (3, 3, 1), (8, 5, 3), (40, 16, 2)):
            mask = masks.make(pattern, T, w=w, d=2, stride=stride, n_global=n_global)
            assert mask.shape == (T, T) and not np.triu(mask, 1).any()  # causal: never a later key
            assert mask.sum() == masks.pairs_formula(pattern, T, w=w, d=2, stride=stride, n_global=n_global)
            assert mask.diagonal().all()  # every token sees itself


# ---- needle in a haystack ------------------------------------------------------------------------------------
def test_needle_helpers():
    assert nh.needle_position(11, 0.5) == 5 and nh.needle_position(11, 0.0) == 0 and nh.needle_position(11, 1.0) == 10
    hay = nh.haystack_chunks(20)
    assert len(hay) == 20 and all(0 < len(c) <= nh.CHUNK_CHARS + 200 for c in hay)
    with pytest.raises(ValueError):
        nh.haystack_chunks(nh.MAX_HAYSTACK_CHUNKS + 1)


def test_the_needle_is_found_wherever_it_sits(embedder):
    hay = nh.haystack_chunks(30)
    result = nh.needle_ranks(embedder, hay, embed_texts(embedder, hay), depths=(0.0, 0.5, 1.0))
    assert result.positions == (0, 14, 29) and result.ranks.shape == (3, 3)
    assert (result.ranks[0] == 1).all()  # BM25: the needle shares 'secret', 'ingredient', 'soup' with the question
    assert (result.ranks >= 1).all() and (result.ranks <= 30).all()


# ---- charts --------------------------------------------------------------------------------------------------
def test_charts_encode_their_data():
    curve = pd.DataFrame({"method": ["BM25", "BM25"], "k": [1, 2], "recall": [0.5, 0.8]})
    assert charts.recall_curve_chart(curve).to_dict()["encoding"]["y"]["field"] == "recall"
    sweep = pd.DataFrame({"dense weight": [0.0, 1.0], "metric": ["MRR", "MRR"], "value": [0.8, 0.9]})
    assert len(charts.weight_sweep_chart(sweep, 0.5).to_dict()["layer"]) == 2
    compare = pd.DataFrame({"index": ["Flat"], "settings": [""], "recall": [1.0], "query_us": [10.0], "KiB": [100.0]})
    assert charts.index_compare_chart(compare).to_dict()["encoding"]["x"]["field"] == "query_us"
    points = pd.DataFrame({"knob": ["efSearch"], "value": [8], "recall": [0.9], "query_us": [5.0]})
    assert charts.index_sweep_chart(points).to_dict()["facet"]["field"] == "knob"
    cost = pd.DataFrame({"tokens": [64, 128] * 2, "series": ["measured"] * 2 + ["c·T² through the last point"] * 2,
                         "value": [1.0, 4.0, 1.0, 4.0]})
    assert len(charts.cost_chart(cost, "time", "ms").to_dict()["layer"]) == 2
    ratio = pd.DataFrame({"method": ["PI"], "pair": [0], "ratio": [0.25]})
    assert charts.rope_ratio_chart(ratio, 4).to_dict()["encoding"]["y"]["scale"]["type"] == "log"
    ppl = pd.DataFrame({"method": ["YaRN"], "position": [1], "perplexity": [40.0]})
    assert len(charts.perplexity_position_chart(ppl, 128).to_dict()["layer"]) == 3
    cells = pd.DataFrame([{"pattern": "causal", **c} for c in masks.mask_rows(masks.causal(4))])
    assert len(cells) == 16 and charts.mask_chart(cells).to_dict()["facet"]["field"] == "pattern"
    pairs = pd.DataFrame({"pattern": ["causal"], "tokens": [64], "pairs": [2080]})
    assert charts.pairs_chart(pairs).to_dict()["encoding"]["x"]["scale"]["type"] == "log"
    needle = pd.DataFrame({"depth": [0.0], "method": ["BM25"], "rank": [1]})
    assert charts.needle_chart(needle).to_dict()["encoding"]["y"]["scale"]["reverse"] is True
    with pytest.raises(ValueError, match="missing"):
        charts.recall_curve_chart(pd.DataFrame({"k": [1]}))


def test_highlight_escapes_and_marks_the_span():
    html = charts.highlight_html("a <b>bold</b> & c", 2, 13, "[1] <doc>")
    assert "<mark" in html and "&lt;b&gt;bold&lt;/b&gt;</mark>" in html and "&amp; c" in html
    assert "<b>[1] &lt;doc&gt;</b>" in html and "<b>bold" not in html
    with pytest.raises(ValueError):
        charts.highlight_html("abc", 2, 9)


def test_new_core_modules_do_not_import_streamlit():
    code = ("import sys, core.rag.bm25, core.rag.fusion, core.rag.evaluation, core.rag.indexes, core.rag.grounding, "
            "core.rag.long_context, core.rag.rope_scaling, core.rag.attention_masks, core.rag.needle, "
            "core.charts.rag_depth; print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=chunking.ASSETS.parent)
    assert out.stdout.strip() == "False"


# ---- the quiz's numbers come from core -------------------------------------------------------------------
def test_rag_quiz_figures_come_from_core():
    import faiss

    from core.content.quizzes import QUIZZES

    def answer(words):
        (q,) = [q for q in QUIZZES["RAG & long context"] if words in q.question]
        return q.options[q.answer]

    fused = fusion.rrf_scores([np.array([0, 1, 2]), np.array([1, 2, 0])], [1.0, 1.0])[0]  # chunk 0: ranks 1 and 3
    assert answer("c = 60 and equal weights") == f"1/61 + 1/63 ≈ {fused:.4f}"
    pq = faiss.IndexPQ(384, 48, 8)
    codebook_bytes = faiss.vector_to_array(pq.pq.centroids).nbytes
    assert answer("m = 48 sub-vectors").startswith(f"{codebook_bytes:,} bytes") and pq.code_size == 48
    assert answer("s = 16") == f"{rs.yarn_attention_factor(16):.2f}"
    theta = rs.default_inv_freq(32, 10000.0)
    assert np.allclose(400 * rs.pi_inv_freq(32, 10000.0, 4.0), int(answer("position interpolation with s = 4")) * theta)


def test_check_citations_by_hand():
    from core.rag.grounding import check_citations

    c = check_citations("GPT-3 has 96 layers [2]. It is large [7][2]. No source here. Fine [1].", 4)
    assert c.valid == (2, 1) and c.invalid == (7,) and c.sentences_without == 1
    c = check_citations("", 3)
    assert c.valid == () and c.invalid == () and c.sentences_without == 0
    assert check_citations("Zero is not a passage [0].", 3).invalid == (0,)
