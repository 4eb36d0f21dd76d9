"""Finding duplicates in a corpus: exact ones by hashing, near ones by MinHash + LSH.

Exact duplicates: two documents whose normalized text (lowercased, whitespace collapsed) has the
same SHA-1 digest are the same document; keep the first.

Near duplicates (Broder 1997, "On the resemblance and containment of documents"): a document is
the set of its word k-grams (shingles); two documents resemble each other by the Jaccard index
of those sets,

    J(A, B) = |A ∩ B| / |A ∪ B|.

MinHash: hash every shingle with P random hash functions h_i(x) = (a_i · x + b_i) mod p (each
standing in for a random permutation of the shingles) and keep, for each, the minimum over the
document. For one random hash, P[min h(A) == min h(B)] = J(A, B), so the share
of the P minima two signatures agree on estimates J, with standard error sqrt(J(1 - J) / P).

LSH banding (Indyk & Motwani 1998; Leskovec, Rajaraman & Ullman, "Mining of Massive Datasets",
ch. 3): cut the signature (P = b · r values) into b bands of r rows. Two documents become a
candidate pair when all r rows of at least one band agree, which happens with probability

    p(s) = 1 - (1 - s^r)^b          (s = Jaccard similarity)

an S-shaped curve whose steepest point is near s* ≈ (1 / b)^(1 / r). Only candidates are compared,
instead of all N (N - 1) / 2 pairs.

Shapes: N documents, S shingles of one document, P = b · r permutations.
"""
import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

PRIME = (1 << 32) - 5  # p: the largest prime below 2^32, modulus of the hash family (a · x + b) mod p
MAX_PERMUTATIONS = 256
MAX_CANDIDATES = 100_000  # LSH pairs examined at most: loose bands on a big corpus make millions
MAX_SHINGLE = 10


def normalize(text: str) -> str:
    """normalize('  In the\\tBeginning ') -> 'in the beginning'."""
    return " ".join(text.lower().split())


def exact_key(text: str) -> str:
    """SHA-1 hex digest of the normalized text: equal keys <=> equal normalized texts."""
    return hashlib.sha1(normalize(text).encode("utf-8")).hexdigest()


def exact_duplicates(texts: list[str]) -> list[int]:
    """Indices of texts whose normalized text already occurred earlier: ['a b', 'A  b', 'c'] -> [1]."""
    seen, dropped = set(), []
    for i, text in enumerate(texts):
        key = exact_key(text)
        if key in seen:
            dropped.append(i)
        seen.add(key)
    return dropped


_WORD = re.compile(r"[a-z0-9']+")


def shingles(text: str, k: int) -> frozenset[str]:
    """Word k-grams of the normalized text, punctuation dropped: ('A b, c', 2) -> {'a b', 'b c'}.

    A text of fewer than k words is one shingle (all its words), so it still has a signature.
    """
    words = _WORD.findall(text.lower())
    if len(words) < k:
        return frozenset([" ".join(words)]) if words else frozenset()
    return frozenset(" ".join(words[i : i + k]) for i in range(len(words) - k + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    """|A ∩ B| / |A ∪ B|: ({1, 2}, {2, 3}) -> 1/3; two empty sets -> 1."""
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def shingle_hashes(shingle_set: frozenset[str]) -> np.ndarray:
    """Each shingle as a 32-bit integer (the first 4 bytes of its SHA-1) -> (S,) uint64."""
    return np.array([int.from_bytes(hashlib.sha1(s.encode("utf-8")).digest()[:4], "little")
                     for s in sorted(shingle_set)], dtype=np.uint64)


def hash_family(n_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b), each (P,) uint64: 1 <= a < p, 0 <= b < p.

    With x < 2^32 too, a · x + b < 2^64 never overflows, and it wraps around p billions of times,
    which is what makes the minimum land on a random-looking shingle. (A modulus far above the
    products, such as 2^61 - 1 with a, x < 2^32, wraps only a few times: the smallest x then
    tends to win for every hash function, and unrelated documents look alike.)
    """
    rng = np.random.default_rng(seed)
    a = rng.integers(1, PRIME, n_perm, dtype=np.uint64)
    b = rng.integers(0, PRIME, n_perm, dtype=np.uint64)
    return a, b


def minhash(hashes: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MinHash signature of one document: min over its shingles of (a · x + b) mod p -> (P,) uint64.

    An empty document gets the all-p signature (equal only to another empty document).
    """
    if len(hashes) == 0:
        return np.full(len(a), PRIME, dtype=np.uint64)
    values = (hashes[:, None] * a[None, :] + b[None, :]) % np.uint64(PRIME)  # (S, P)
    return values.min(axis=0)  # (P,)


def signatures(shingle_sets: list[frozenset], n_perm: int, seed: int = 0) -> np.ndarray:
    """MinHash signatures of N documents -> (N, P) uint64."""
    if not 1 <= n_perm <= MAX_PERMUTATIONS:
        raise ValueError(f"n_perm must be in 1..{MAX_PERMUTATIONS}, got {n_perm}")
    a, b = hash_family(n_perm, seed)
    out = np.empty((len(shingle_sets), n_perm), dtype=np.uint64)  # (N, P)
    for i, s in enumerate(shingle_sets):
        out[i] = minhash(shingle_hashes(s), a, b)
    return out


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Share of the P minima two signatures agree on: the MinHash estimate of J."""
    return float(np.mean(sig_a == sig_b))


def lsh_probability(s, bands: int, rows: int):
    """P[candidate] = 1 - (1 - s^r)^b for Jaccard s (float or array): (0.5, b=2, r=2) -> 0.4375."""
    return 1.0 - (1.0 - np.asarray(s, dtype=float) ** rows) ** bands


def lsh_threshold(bands: int, rows: int) -> float:
    """(1 / b)^(1 / r), about where the S-curve is steepest: (b=20, r=5) -> 0.549."""
    return (1.0 / bands) ** (1.0 / rows)


def lsh_candidates(sigs: np.ndarray, bands: int, rows: int, limit: int = MAX_CANDIDATES) -> set[tuple[int, int]]:
    """Pairs (i, j), i < j, whose signatures agree on every row of at least one band.

    sigs: (N, P) with P >= b · r; band j is columns j·r .. (j+1)·r - 1, used as a bucket key.
    Stops adding pairs once it has `limit` of them.
    """
    if bands * rows > sigs.shape[1]:
        raise ValueError(f"{bands} bands x {rows} rows needs {bands * rows} permutations, have {sigs.shape[1]}")
    pairs = set()
    for band in range(bands):
        buckets = defaultdict(list)
        for i, key in enumerate(sigs[:, band * rows : (band + 1) * rows]):  # key: (r,)
            buckets[key.tobytes()].append(i)
        for members in buckets.values():
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    if len(pairs) >= limit:
                        return pairs
                    pairs.add((members[x], members[y]))
    return pairs


def estimated_jaccards(sigs: np.ndarray, pairs: list[tuple[int, int]], chunk: int = 4096) -> np.ndarray:
    """MinHash estimates for many pairs at once: (N, P) signatures, M pairs -> (M,)."""
    out = np.empty(len(pairs))
    idx = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    for start in range(0, len(idx), chunk):
        i, j = idx[start : start + chunk, 0], idx[start : start + chunk, 1]
        out[start : start + chunk] = (sigs[i] == sigs[j]).mean(axis=1)  # (chunk, P) -> (chunk,)
    return out


def components(n: int, edges) -> list[int]:
    """Union-find: the smallest index of each item's connected component: (4, [(1, 3)]) -> [0, 1, 2, 1]."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in edges:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return [find(i) for i in range(n)]


@dataclass(frozen=True)
class NearDupPair:
    a: int  # index of the earlier document
    b: int  # index of the later document
    estimated: float  # MinHash estimate of the Jaccard index
    true: float  # exact Jaccard index of the two shingle sets
    candidate: bool  # did LSH put them in a common bucket?
    duplicate: bool  # candidate and estimated >= threshold: linked as near duplicates


@dataclass(frozen=True)
class NearDedup:
    dropped: tuple[int, ...]  # indices removed: all but the first document of each linked group
    pairs: tuple[NearDupPair, ...]  # the extra pairs asked for, then candidates, at most max_pairs
    n_candidates: int
    n_linked: int  # candidate pairs at or above the threshold
    n_compared_all: int  # N (N - 1) / 2: what comparing every pair would cost
    truncated: bool  # LSH stopped at MAX_CANDIDATES pairs (bands too loose for this corpus)


def near_duplicates(texts: list[str], k: int = 5, bands: int = 20, rows: int = 5, threshold: float = 0.5,
                    seed: int = 0, extra_pairs=(), max_pairs: int = 3000) -> NearDedup:
    """MinHash + LSH near-duplicate removal over N texts.

    Candidates from LSH are checked by their MinHash estimate (>= threshold), linked, and each
    connected group keeps its first document. Returned for display: `extra_pairs` (i, j) (e.g.
    planted duplicates, found by LSH or not), then candidates, up to max_pairs, each with its exact
    Jaccard as well.
    """
    if not 1 <= k <= MAX_SHINGLE:
        raise ValueError(f"shingle size k must be in 1..{MAX_SHINGLE}, got {k}")
    sets = [shingles(t, k) for t in texts]
    sigs = signatures(sets, bands * rows, seed)  # (N, b·r)
    candidates = lsh_candidates(sigs, bands, rows)
    ordered = sorted(candidates)
    estimates = estimated_jaccards(sigs, ordered)  # (M,)
    linked = [pair for pair, est in zip(ordered, estimates) if est >= threshold]
    roots = components(len(texts), linked)
    dropped = tuple(i for i, root in enumerate(roots) if root != i)
    shown = list(dict.fromkeys([(min(p), max(p)) for p in extra_pairs] + ordered))[:max_pairs]
    pairs = []
    for (i, j), est in zip(shown, estimated_jaccards(sigs, shown)):
        is_candidate = (i, j) in candidates
        pairs.append(NearDupPair(i, j, float(est), jaccard(sets[i], sets[j]), is_candidate,
                                 is_candidate and est >= threshold))
    n = len(texts)
    return NearDedup(dropped, tuple(pairs), len(candidates), len(linked), n * (n - 1) // 2,
                     len(candidates) >= MAX_CANDIDATES)


if __name__ == "__main__":
    a = "In the beginning God created the heaven and the earth and the earth was without form"
    b = "In the beginning God created the heavens and the earth and the earth was without form"
    sa, sb = shingles(a, 3), shingles(b, 3)
    sig = signatures([sa, sb], 128)
    print(f"true Jaccard {jaccard(sa, sb):.3f}, MinHash estimate (P=128) {estimated_jaccard(*sig):.3f}")
    print(f"exact duplicates of ['a b', 'A  b', 'c']: {exact_duplicates(['a b', 'A  b', 'c'])}")
    for b_, r_ in [(20, 5), (16, 8), (32, 4)]:
        print(f"b={b_:2d} r={r_}: threshold ≈ {lsh_threshold(b_, r_):.3f}; P[candidate] at s=0.3/0.5/0.8: "
              + " / ".join(f"{lsh_probability(s, b_, r_):.3f}" for s in (0.3, 0.5, 0.8)))
