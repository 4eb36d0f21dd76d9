"""core.rag.chunking, core.rag.retrieval and core.charts.rag: hand-worked cases, independent computations, invariants."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from core.charts import rag as charts
from core.rag import chunking
from core.rag import retrieval as rag
from core.rag.chunking import Chunk, ChunkConfig


@pytest.fixture(scope="module")
def embedder():
    from core.models import load_sentence_embedder

    return load_sentence_embedder()


@pytest.fixture(scope="module")
def embedded(embedder):
    return rag.embed_chunks(embedder, chunking.load_documents(), ChunkConfig(400, 80, "fixed"))


def unit_vectors(n, dim=32, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# ---- the document set ----------------------------------------------------------------------------------
def test_bundled_documents_are_a_small_labelled_set():
    docs = chunking.load_documents()
    assert 8 <= len(docs) <= 15
    assert all(1000 <= len(d.text.encode()) <= 3000 for d in docs), [(d.name, len(d.text)) for d in docs]
    assert all(d.title != d.name for d in docs)  # every document opens with '# Title'
    assert "original" in (chunking.DOCS_DIR / "README.md").read_text()
    names = {d.name for d in docs}
    questions = chunking.load_questions()
    assert len(questions) >= 10 and all(doc in names for _, doc in questions)


def test_documents_hash_changes_with_any_text():
    docs = chunking.load_documents()
    changed = docs[:-1] + (chunking.make_document(docs[-1].name, docs[-1].text + "!"),)
    assert chunking.documents_hash(docs) == chunking.documents_hash(tuple(docs))
    assert chunking.documents_hash(docs) != chunking.documents_hash(changed)


# ---- chunking ------------------------------------------------------------------------------------------
def test_fixed_chunks_hand_worked():
    assert chunking.fixed_spans(0, 10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    assert chunking.fixed_spans(0, 8, 4, 0) == [(0, 4), (4, 8)]
    assert chunking.fixed_spans(0, 3, 4, 1) == [(0, 3)]
    text = "abcdefghij"
    spans = chunking.chunk_text(text, ChunkConfig(4, 1, "fixed"))
    assert [text[s:e] for s, e in spans] == ["abcd", "defg", "ghij"]


def test_units_and_packing_hand_worked():
    assert chunking.unit_spans("One. Two.", "sentence") == [(0, 4), (5, 9)]
    assert chunking.unit_spans("As Hu et al. show. Next", "sentence") == [(0, 18), (19, 23)]
    assert chunking.unit_spans("para one\nstill one\n\n  para two  ", "paragraph") == [(0, 18), (22, 30)]
    # units of 4 characters separated by 1: pack two per chunk, the second repeated as overlap
    assert chunking.pack_spans([(0, 4), (5, 9), (10, 14)], size=9, overlap=4) == [(0, 9), (5, 14)]
    assert chunking.pack_spans([(0, 4), (5, 9), (10, 14)], size=9, overlap=0) == [(0, 9), (10, 14)]
    # a unit longer than the size is cut into fixed windows
    assert chunking.pack_spans([(0, 10)], size=4, overlap=1) == [(0, 4), (3, 7), (6, 10)]


def test_clamp_overlap_with_message():
    cfg, message = chunking.clamp_config(ChunkConfig(100, 150, "fixed"))
    assert cfg == ChunkConfig(100, 50, "fixed") and "clamped" in message
    cfg, message = chunking.clamp_config(ChunkConfig(100, 99, "nonsense"))
    assert cfg == ChunkConfig(100, 99, "fixed") and message is None


@pytest.mark.parametrize("strategy", chunking.STRATEGIES)
@pytest.mark.parametrize("size,overlap", [(120, 0), (300, 60), (700, 200)])
def test_chunks_cover_every_document(strategy, size, overlap):
    for doc in chunking.load_documents():
        chunks = chunking.chunk_documents((doc,), ChunkConfig(size, overlap, strategy))
        assert chunks and all(c.text.strip() for c in chunks)  # no empty chunks
        assert all(len(c.text) <= size and c.text == doc.text[c.start:c.end] for c in chunks)
        assert all(a.start < b.start for a, b in zip(chunks, chunks[1:]))  # always advances
        covered = np.zeros(len(doc.text), bool)
        for c in chunks:
            covered[c.start:c.end] = True
        missed = [i for i, ch in enumerate(doc.text) if not ch.isspace() and not covered[i]]
        assert not missed, (doc.name, missed[:5])
        if strategy == "fixed":  # exact reassembly: each chunk after the first adds what follows the overlap
            assert all(b.start == a.end - overlap for a, b in zip(chunks, chunks[1:]) if b.end - b.start == size)
            rebuilt = chunks[0].text + "".join(b.text[a.end - b.start:] for a, b in zip(chunks, chunks[1:]))
            assert rebuilt.strip() == doc.text.strip()


def test_upload_validation():
    doc = chunking.document_from_upload("notes.md", "# My notes\n\nSome text.".encode())
    assert doc.name == "upload:notes.md" and doc.title == "My notes"
    assert chunking.document_from_upload("../../etc/a.txt", b"hello").name == "upload:a.txt"
    bad = {  # the message a learner sees names the problem
        "not a .txt or .md": ("a.pdf", b"%PDF-1.4"),
        "the limit is": ("a.txt", b"x" * (chunking.MAX_UPLOAD_BYTES + 1)),
        "NUL bytes": ("a.txt", b"ab\x00cd"),
        "not valid UTF-8": ("a.txt", b"caf\xe9"),
        "is empty": ("a.txt", b"  \n "),
        "control characters": ("a.md", bytes(range(1, 9)) * 20),
    }
    for message, (name, data) in bad.items():
        with pytest.raises(ValueError, match=message):
            chunking.document_from_upload(name, data)


# ---- indexes and search --------------------------------------------------------------------------------
def test_faiss_flat_top_k_equals_brute_force_numpy():
    vectors, queries = unit_vectors(500, seed=1), unit_vectors(20, seed=2)
    scores, ids = rag.search(rag.build_index(vectors, "flat"), queries, 5)
    brute = queries @ vectors.T  # (Q, N), computed here independently of rag.exact_search
    want = np.argsort(-brute, axis=1)[:, :5]
    np.testing.assert_array_equal(ids, want)
    np.testing.assert_allclose(scores, np.take_along_axis(brute, want, axis=1), atol=1e-5)
    np.testing.assert_array_equal(rag.exact_search(vectors, queries, 5)[1], want)


def test_recall_of_exact_search_is_one_and_approximate_is_at_most_one():
    vectors, queries = unit_vectors(2000, seed=3), unit_vectors(50, seed=4)
    truth = rag.exact_search(vectors, queries, 10)[1]
    assert rag.recall_at_k(rag.search(rag.build_index(vectors, "flat"), queries, 10)[1], truth) == 1.0
    ivf_all_lists = rag.build_index(vectors, "ivf", nlist=8, nprobe=8)  # probing every list is exhaustive
    assert rag.recall_at_k(rag.search(ivf_all_lists, queries, 10)[1], truth) == 1.0
    sparse_graph = rag.build_index(vectors, "hnsw", hnsw_m=4, ef_construction=8, ef_search=1)
    recall = rag.recall_at_k(rag.search(sparse_graph, queries, 10)[1], truth)
    assert 0.0 < recall < 1.0  # 32-d random vectors with a 4-link graph: misses must happen
    assert rag.recall_at_k(np.array([[1, 2, 3]]), np.array([[1, 2, 4]])) == pytest.approx(2 / 3)


def test_index_benchmark_measures_every_kind():
    rows = rag.benchmark_indexes(n=2000, n_queries=40, k=5, kinds=("flat", "hnsw", "ivf"))
    by_kind = {r.kind: r for r in rows}
    assert by_kind["flat"].recall == 1.0
    assert by_kind["flat"].bytes >= 2000 * 384 * 4
    assert by_kind["hnsw"].bytes > by_kind["flat"].bytes  # the graph's links come on top of the vectors
    assert all(0 <= r.recall <= 1 and r.query_ms > 0 and r.build_seconds >= 0 for r in rows)


# ---- embeddings ----------------------------------------------------------------------------------------
def test_embedder_equals_mean_pooled_normalized_encoder_output(embedder):
    import torch

    from core.models import load_encoder

    texts = ["What does the KV cache store?", "Keys and values of past tokens.", "A short one."]
    model, tokenizer = load_encoder()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state  # (B, T, C)
    mask = batch["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
    pooled = (hidden * mask).sum(1) / mask.sum(1)  # (B, C)
    want = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    got = rag.embed_texts(embedder, texts)
    assert got.shape == (3, 384) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_embedded_chunks_are_consistent(embedded):
    n = len(embedded.chunks)
    assert embedded.vectors.shape == (n, 384) and len(embedded.token_counts) == n
    assert embedded.max_tokens == 256 and embedded.embed_seconds > 0
    assert all(0 < t < 200 for t in embedded.token_counts)  # 400 characters stay well below the limit


def test_questions_retrieve_the_right_document_first(embedder, embedded):
    result = rag.retrieve(embedder, embedded, "What does the KV cache store?", k=4)
    assert result.hits[0].chunk.doc == "kv_cache.md"
    assert [h.rank for h in result.hits] == [1, 2, 3, 4]
    assert result.recall == 1.0
    np.testing.assert_allclose(result.scores[[h.chunk_id for h in result.hits]], [h.score for h in result.hits], atol=1e-5)
    at1, atk = rag.evaluate_questions(embedder, embedded, chunking.load_questions(), k=4)
    assert at1 >= 0.8 and atk >= 0.9


def test_sweep_measures_each_size(embedder):
    docs = chunking.load_documents()[:3]
    questions = [q for q in chunking.load_questions() if q[1] in {d.name for d in docs}]
    rows = rag.sweep_chunk_sizes(embedder, docs, (300, 900), 0.2, "fixed", questions, k=2)
    assert [r.size for r in rows] == [300, 900] and [r.overlap for r in rows] == [60, 180]
    assert rows[0].n_chunks == len(chunking.chunk_documents(docs, ChunkConfig(300, 60))) > rows[1].n_chunks
    assert rows[0].index_bytes > rows[1].index_bytes and rows[1].truncated == 0


# ---- the prompt ----------------------------------------------------------------------------------------
def _hits(n):
    return tuple(rag.Hit(r, r - 1, 1 - r / 10, Chunk(f"doc{r}.md", 0, 9, f"passage {r}")) for r in range(1, n + 1))


def test_prompt_contains_every_chunk_with_its_citation_number():
    prompt = rag.build_prompt("  Why?  ", _hits(3))
    assert prompt.startswith("### System\n" + rag.SYSTEM_PROMPT)
    for n in (1, 2, 3):
        assert f"[{n}] (source: doc{n}.md, characters 0-9)\npassage {n}" in prompt
    assert prompt.index("[1]") < prompt.index("[2]") < prompt.index("[3]") < prompt.index("### Question\nWhy?\n")
    edges = rag.build_prompt("Why?", _hits(5), "best at the edges")
    assert [h.rank for h in rag.order_hits(_hits(5), "best at the edges")] == [1, 3, 5, 4, 2]
    assert "[2] (source: doc3.md" in edges and "[5] (source: doc2.md" in edges


def test_count_tokens_matches_the_tokenizer(embedder):
    text = "The KV cache stores keys and values."
    assert rag.count_tokens(embedder.tokenizer, text) == len(embedder.tokenizer.tokenize(text))


# ---- views and charts ----------------------------------------------------------------------------------
def test_pca_matches_covariance_eigendecomposition():
    x = unit_vectors(60, dim=10, seed=5)
    coords, ratio = rag.pca_2d(x, x[:1] * 2)
    centred = x - x.mean(0)
    eigvals, eigvecs = np.linalg.eigh(np.cov(centred, rowvar=False))  # ascending
    top = eigvecs[:, ::-1][:, :2]
    np.testing.assert_allclose(ratio, eigvals[::-1][:2] / eigvals.sum(), rtol=1e-4)
    np.testing.assert_allclose(np.abs(coords[:60]), np.abs(centred @ top), atol=1e-4)
    assert coords.shape == (61, 2)


def test_charts_encode_the_data(embedded):
    scores = pd.DataFrame({"chunk": [0, 1], "rank": [1, 2], "doc": ["a.md", "b.md"], "score": [0.7, 0.2],
                           "retrieved": [True, False], "text": ["x", "y"]})
    spec = charts.scores_chart(scores, 1).to_dict()
    assert spec["encoding"]["y"]["field"] == "score" and "all 2 chunks" in spec["title"]
    coords, variance = rag.pca_2d(embedded.vectors[:5])
    proj = pd.DataFrame({"x": coords[:, 0], "y": coords[:, 1], "doc": ["a.md"] * 5, "kind": ["chunk"] * 4 + ["question"],
                         "retrieved": [False] * 5, "text": [""] * 5})
    assert len(charts.projection_chart(proj, tuple(variance)).to_dict()["layer"]) == 3
    sweep = pd.DataFrame({"size": [200, 400], "quantity": ["chunks"] * 2, "value": [10.0, 5.0]})
    assert charts.sweep_chart(sweep).to_dict()["facet"]["field"] == "quantity"
    bench = pd.DataFrame({"kind": ["flat"], "recall": [1.0], "query_ms": [0.1], "megabytes": [1.0]})
    assert charts.index_bench_chart(bench).to_dict()["encoding"]["y"]["field"] == "recall"


def test_core_does_not_import_streamlit():
    code = "import sys, core.rag.retrieval, core.rag.chunking, core.charts.rag; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=chunking.ASSETS.parent)
    assert out.stdout.strip() == "False"
