"""core.rag.chunking, core.rag.retrieval and core.charts.rag: hand-worked cases, independent computations, invariants."""
import functools
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


def test_clamp_overlap_below_half_the_size_with_message():
    cfg, message = chunking.clamp_config(ChunkConfig(100, 150, "fixed"))
    assert cfg == ChunkConfig(100, 49, "fixed") and "clamped to 49" in message and "never move forward" in message
    cfg, message = chunking.clamp_config(ChunkConfig(100, 99, "nonsense"))
    assert cfg == ChunkConfig(100, 49, "fixed") and "add only 1 new" in message
    cfg, message = chunking.clamp_config(ChunkConfig(100, 50, "sentence"))  # exactly half: repeats as much as it adds
    assert cfg == ChunkConfig(100, 49, "sentence") and "clamped" in message
    assert chunking.clamp_config(ChunkConfig(100, 49, "paragraph")) == (ChunkConfig(100, 49, "paragraph"), None)


def test_max_overlap_is_the_largest_grid_value_below_half():
    assert chunking.max_overlap(100) == 49 and chunking.max_overlap(100, 10) == 40
    assert chunking.max_overlap(150, 10) == 70 and chunking.max_overlap(1500, 10) == 740
    for step in (1, 10):  # against a search over every grid value
        for size in range(1, 400):
            assert chunking.max_overlap(size, step) == max(o for o in range(0, size, step) if 2 * o < size), (size, step)


def test_overlap_rule_for_links():
    from core.state import apply_rules

    rule = functools.partial(chunking.cap_overlap, step=10)  # as the page binds it
    assert apply_rules({"size": 100, "overlap": 99, "k": 4}, [rule]) == {"size": 100, "overlap": 40, "k": 4}
    assert apply_rules({"size": 400, "overlap": 80}, [rule]) == {"size": 400, "overlap": 80}  # valid: unchanged
    assert apply_rules({"k": 4}, [rule]) == {"k": 4}


# ---- the chunk budget ----------------------------------------------------------------------------------
def direct_fixed_count(length: int, size: int, overlap: int) -> int:
    """Windows of `size` every `size - overlap` characters until one reaches the end: 1 + ceil((L - size) / step)."""
    return 1 + max(0, -(-(length - size) // (size - overlap)))


def test_chunk_counts_equal_a_direct_count():
    docs = tuple(chunking.make_document(f"d{i}.md", "abcdefghij" * n) for i, n in enumerate((1, 7, 30, 123)))
    for size, overlap in [(4, 1), (10, 0), (100, 49), (37, 18)]:
        chunks = chunking.chunk_documents(docs, ChunkConfig(size, overlap, "fixed"))
        assert len(chunks) == sum(direct_fixed_count(len(d.text), size, overlap) for d in docs), (size, overlap)


def test_budget_keeps_the_first_chunks_and_counts_the_rest():
    docs = tuple(chunking.make_document(f"d{i}.md", "abcdefghij" * 10) for i in range(3))  # 100 characters each
    chunks = chunking.chunk_documents(docs, ChunkConfig(20, 0, "fixed"))  # 5 per document, 20 characters each
    kept = chunking.within_budget(chunks, max_chunks=7, max_chars=10_000)
    assert kept.chunks == chunks[:7] and kept.n_made == 15 and kept.chars_made == 300 and kept.cut
    assert kept.cut_docs == ("d1.md", "d2.md")
    by_chars = chunking.within_budget(chunks, max_chunks=100, max_chars=110)  # 5 chunks of 20 fit in 110
    assert len(by_chars.chunks) == 5 and by_chars.cut_docs == ("d1.md", "d2.md")
    whole = chunking.within_budget(chunks, max_chunks=15, max_chars=300)
    assert whole.chunks == chunks and not whole.cut and whole.cut_docs == ()
    message = chunking.budget_message(7, 15, 300, 2, max_chunks=7, max_chars=10_000)
    assert "make 15 chunks" in message and "at most 7 chunks" in message and "other 8" in message
    assert chunking.budget_message(15, 15, 300, 0) is None


@pytest.mark.parametrize("strategy", chunking.STRATEGIES)
def test_the_links_of_the_issue_stay_within_the_budget(strategy):
    """/rag?size=100&overlap=99 made 27,949 chunks (9,787 with strategy=sentence); clamped, and with the largest
    upload on top, what is embedded stays within the budget."""
    docs = chunking.load_documents()
    upload, _ = chunking.document_from_upload("big.md", ("A sentence of words. " * 1400).encode())  # cut to 20,000
    cfg, message = chunking.clamp_config(ChunkConfig(100, 99, strategy))
    assert cfg.overlap == 49 and message
    made = chunking.chunk_documents((upload,) + docs, cfg)
    kept = chunking.within_budget(made)
    assert len(kept.chunks) <= chunking.MAX_CHUNKS
    assert sum(len(c.text) for c in kept.chunks) <= chunking.MAX_EMBED_CHARS
    assert kept.n_made == len(made) and sum(len(c.text) for c in made) <= 2 * sum(len(d.text) for d in (upload,) + docs)


def test_embed_chunks_applies_the_budget(embedder):
    docs = chunking.load_documents()[:2]
    cfg = ChunkConfig(200, 40, "fixed")
    direct = sum(direct_fixed_count(len(d.text), 200, 40) for d in docs)
    embedded = rag.embed_chunks(embedder, docs, cfg, max_chunks=7)
    assert embedded.n_made == direct == len(chunking.chunk_documents(docs, cfg)) > 7
    assert len(embedded.chunks) == 7 and embedded.vectors.shape == (7, 384) and len(embedded.token_counts) == 7
    assert embedded.chunks == chunking.chunk_documents(docs, cfg)[:7]
    assert f"make {direct} chunks" in embedded.budget_message and "first 7 chunks" in embedded.budget_message
    assert rag.embed_chunks(embedder, docs[:1], ChunkConfig(1500, 0)).budget_message is None


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
    doc, note = chunking.document_from_upload("notes.md", b"# My notes\r\n\r\nSome text.")
    assert doc == chunking.Document("upload:notes.md", "My notes", "# My notes\n\nSome text.") and note is None
    assert chunking.document_from_upload("../../etc/a.txt", b"hello")[0].name == "upload:a.txt"
    assert chunking.document_from_upload("a\nb\x1b.md", b"hello")[0].name == "upload:ab.md"  # control characters dropped
    text = "é" * (chunking.MAX_UPLOAD_BYTES // 2)  # 2 bytes each in UTF-8: 30,000 bytes, 15,000 characters
    assert chunking.document_from_upload("a.txt", text.encode()) == (chunking.make_document("upload:a.txt", text), None)
    long_doc, note = chunking.document_from_upload("a.txt", b"x" * 29_000)  # over the characters: cut, with a note
    assert long_doc.text == "x" * chunking.MAX_UPLOAD_CHARS and "29,000 characters; only the first 20,000" in note
    bad = {  # the message a learner sees names the problem
        "not a .txt or .md": ("a.pdf", b"%PDF-1.4"),
        r"30,001 bytes; the limit is 30,000": ("a.txt", b"x" * (chunking.MAX_UPLOAD_BYTES + 1)),
        "NUL bytes": ("a.txt", b"ab\x00cd"),
        "not valid UTF-8": ("a.txt", b"caf\xe9"),
        "UTF-16 text; save it as UTF-8": ("a.md", b"\xff\xfe" + "UTF-16 text".encode("utf-16-le")),
        "is empty": ("a.txt", b"  \n "),
        "is empty:": ("a.txt", b""),
        "control characters": ("a.md", bytes(range(1, 9)) * 20),
    }
    for message, (name, data) in bad.items():
        with pytest.raises(ValueError, match=message):
            chunking.document_from_upload(name, data)
    long_name = "../../<img src=x>![t](http://evil.example/t.png)" + "n" * 5000 + ".txt"
    assert chunking.document_from_upload(long_name, b"text")[0].name == "upload:" + chunking.clean_file_name(long_name)
    assert chunking.clean_file_name(long_name).endswith("nnn.txt") and len(chunking.clean_file_name(long_name)) == 80
    hostile = "[click](https://evil.example) **bold**.md"
    with pytest.raises(ValueError) as err:
        chunking.document_from_upload(hostile, b"\x00\x01")
    assert "click" not in str(err.value) and "evil" not in str(err.value)  # the page shows the name apart, as text


# ---- indexes and search --------------------------------------------------------------------------------
def test_faiss_flat_top_k_equals_brute_force_numpy():
    vectors, queries = unit_vectors(500, seed=1), unit_vectors(20, seed=2)
    scores, ids = rag.search(rag.build_index(vectors, "flat"), queries, 5)
    brute = queries @ vectors.T  # (Q, N), computed here independently of rag.exact_search
    want = np.argsort(-brute, axis=1)[:, :5]
    np.testing.assert_array_equal(ids, want)
    np.testing.assert_allclose(scores, np.take_along_axis(brute, want, axis=1), atol=1e-5)
    np.testing.assert_array_equal(rag.exact_search(vectors, queries, 5)[1], want)


def test_exact_search_in_batches_equals_a_full_sort():
    vectors, queries = unit_vectors(300, seed=6), unit_vectors(45, seed=7)
    full = queries @ vectors.T  # (Q, N), computed here independently
    want = np.argsort(-full, axis=1, kind="stable")[:, :8]
    for batch_bytes in (1, 4 * 300 * 7, 2**30):  # one query per batch, 7 per batch, all at once
        scores, ids = rag.exact_search(vectors, queries, 8, batch_bytes=batch_bytes)
        np.testing.assert_array_equal(ids, want)
        np.testing.assert_allclose(scores, np.take_along_axis(full, want, axis=1), atol=1e-6)
    scores, ids = rag.exact_search(vectors[:5], queries, 10)  # k above N: all N, best first
    assert ids.shape == (45, 5) and (np.diff(scores, axis=1) <= 1e-7).all()
    twins = np.vstack([vectors[:3], vectors[:3]])  # rows 0-2 equal rows 3-5: ties go to the lower id
    _, ids = rag.exact_search(twins, twins[:3], 2)
    np.testing.assert_array_equal(ids, [[0, 3], [1, 4], [2, 5]])


def test_exact_search_memory_stays_bounded():
    """Every chunk as a query (N x N) would be 4000² floats = 64 MB; batches keep it near batch_bytes."""
    import tracemalloc

    vectors = unit_vectors(4000, dim=16, seed=8)
    tracemalloc.start()
    rag.exact_search(vectors, vectors, 5, batch_bytes=2**20)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 12 * 2**20, peak


def test_recall_with_ties_hand_worked():
    true_scores = np.array([[0.9, 0.8, 0.8]])  # k = 3, the k-th exact score is 0.8
    assert rag.recall_with_ties(np.array([[0.9, 0.8, 0.8]]), np.array([[0, 5, 7]]), true_scores) == 1.0
    assert rag.recall_with_ties(np.array([[0.9, 0.8, 0.7]]), np.array([[0, 5, 7]]), true_scores) == pytest.approx(2 / 3)
    assert rag.recall_with_ties(np.array([[0.9, 0.8, 0.8]]), np.array([[0, 5, -1]]), true_scores) == pytest.approx(2 / 3)


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
    # the same with the new batched top-k and ties counted, every vector a query as on the page
    scores, ids = rag.search(rag.build_index(vectors, "flat"), vectors, 10)
    assert rag.recall_with_ties(scores, ids, rag.exact_search(vectors, vectors, 10, batch_bytes=2**16)[0]) == 1.0
    twins = np.vstack([vectors[:500], vectors[:500]])  # a document uploaded twice: every score tied with a twin
    scores, ids = rag.search(rag.build_index(twins, "flat"), twins, 3)
    assert rag.recall_with_ties(scores, ids, rag.exact_search(twins, twins, 3)[0]) == 1.0


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
    assert at1 >= 0.7 and atk >= 0.9  # dense alone; some questions are written for keyword search to win


def test_sweep_measures_each_size(embedder):
    docs = chunking.load_documents()[:3]
    questions = [q for q in chunking.load_questions() if q[1] in {d.name for d in docs}]
    rows = rag.sweep_chunk_sizes(embedder, docs, (300, 900), 0.2, "fixed", questions, k=2)
    assert [r.size for r in rows] == [300, 900] and [r.overlap for r in rows] == [60, 180]
    assert rows[0].n_chunks == len(chunking.chunk_documents(docs, ChunkConfig(300, 60))) > rows[1].n_chunks
    assert rows[0].index_bytes > rows[1].index_bytes and rows[1].truncated == 0
    assert rows[0].left_out == rows[1].left_out == 0
    assert rag.sweep_row(embedder, docs, 200, 0.9, "fixed", questions, k=2).overlap == 99  # below half, like any request


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
