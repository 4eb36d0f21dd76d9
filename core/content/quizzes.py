"""Interview-style questions that close each page: (question, options, index of the answer, why).

Kept as data so a test can check every question is well formed; ui.quiz draws them.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    question: str
    options: tuple[str, ...]
    answer: int  # index into options
    why: str


QUIZZES = {
    "Transformer": [
        Question("Why is QKᵀ divided by √D before the softmax?",
                 ("To make attention causal", "To keep the dot products' variance near 1 so the softmax does not saturate",
                  "To normalise each row to sum to 1", "To save memory"),
                 1, "With unit-variance q and k, q·k has variance D; dividing by √D brings it back to 1, so the "
                    "softmax keeps useful gradients instead of becoming one-hot (Vaswani et al. 2017, §3.2.1)."),
        Question("Each row of an attention map sums to...", ("0", "1", "T", "the head dimension D"),
                 1, "Each row is a softmax over the keys: a probability distribution over where that token looks."),
        Question("Raising the sampling temperature above 1...",
                 ("makes the next-token distribution flatter (higher entropy)", "makes it sharper",
                  "changes which token is most likely", "has no effect on greedy decoding and sampling alike"),
                 0, "Logits are divided by T before the softmax: T > 1 shrinks their differences, flattening the "
                    "distribution; the argmax never changes."),
    ],
    "Pretraining": [
        Question("Growing a BPE vocabulary from 1,000 to 8,000 tokens mostly...",
                 ("raises characters per token, so sequences get shorter", "lowers characters per token",
                  "makes unknown characters possible", "changes nothing for common words"),
                 0, "Each merge replaces a frequent pair by one token, so text is cut into fewer, longer pieces; "
                    "the gain shrinks as the vocabulary grows (the curve flattens)."),
        Question("Why can a byte-level BPE tokenizer encode any text?",
                 ("It has a token for every word", "Its base alphabet is the 256 byte values",
                  "It falls back to [UNK]", "It lowercases the text"),
                 1, "Every string is a sequence of bytes and every byte is in the base vocabulary (GPT-2, 2019)."),
    ],
    "Fine-tuning": [
        Question("LoRA with rank r on a d×d weight trains how many parameters for that matrix?",
                 ("d²", "2·d·r", "r²", "d·r/2"),
                 1, "ΔW = B·A with B (d×r) and A (r×d): 2·d·r parameters instead of d² (Hu et al. 2021)."),
        Question("Why does LoRA save so much optimizer memory with Adam?",
                 ("Adam keeps two moments per trainable parameter, and LoRA trains ~1% of them",
                  "LoRA uses 4-bit weights", "LoRA needs no gradients", "Adam is replaced by SGD"),
                 0, "Gradients and Adam's two moments exist only for trainable parameters; the frozen base "
                    "weights need none."),
    ],
    "Inference": [
        Question("Without a KV cache, generating token t costs...",
                 ("the same as with it", "a forward pass over all t tokens so far", "one matrix multiply", "nothing extra"),
                 1, "Each step recomputes keys and values for the whole prefix, so total work grows as O(T²) "
                    "instead of O(T)."),
        Question("Per token, the KV cache of Llama-2-7B (32 layers, 32 KV heads, head dim 128, FP16) holds...",
                 ("128 KiB", "512 KiB", "2 MiB", "32 KiB"),
                 1, "2 (K and V) × 32 layers × 32 heads × 128 × 2 bytes = 524,288 bytes = 512 KiB."),
        Question("Why can 4-bit weights be slower than FP32 on a CPU?",
                 ("They are less accurate", "Dequantizing on the fly costs more than the bandwidth it saves on a small model",
                  "CPUs cannot store 4-bit numbers", "They need a larger KV cache"),
                 1, "The saving is in bytes read; a tiny model is overhead-bound, so unpacking 4-bit weights adds "
                    "work without removing a bottleneck. Big models on GPUs are bandwidth-bound and gain."),
        Question("With greedy verification, speculative decoding's output is...",
                 ("identical to the target's own greedy output", "the draft's output",
                  "an average of both models", "random"),
                 0, "The target checks every drafted token and keeps only those it would have chosen itself "
                    "(Leviathan et al. 2023)."),
    ],
    "Multimodal": [
        Question("A 224×224 image with 16×16 patches becomes how many patch tokens?", ("14", "196", "256", "3,136"),
                 1, "(224/16)² = 14² = 196 tokens (plus a [CLS] token in ViT)."),
        Question("CLIP's contrastive loss pushes...",
                 ("matching image/caption pairs together and the rest of the batch apart",
                  "images to reconstruct their pixels", "captions to predict the next word", "all embeddings to zero"),
                 0, "Symmetric InfoNCE over the batch's similarity matrix: the diagonal up, off-diagonal down "
                    "(Radford et al. 2021)."),
    ],
    "Agents": [
        Question("Why does the calculator tool parse an AST instead of calling eval?",
                 ("eval is slower", "eval would run any Python the model or a document writes",
                  "AST parsing is more accurate", "eval cannot do arithmetic"),
                 1, "Text from a model or a retrieved document is untrusted: a whitelist of AST nodes allows "
                    "arithmetic and nothing else."),
        Question("In ReAct, what does the model see after each Action?",
                 ("Nothing", "The tool's Observation, appended to its prompt", "The final answer", "Its own weights"),
                 1, "Thought → Action → Observation repeats: the observation becomes context for the next "
                    "thought (Yao et al. 2022)."),
    ],
    "RAG & long context": [
        Question("For L2-normalised embeddings, cosine similarity equals...",
                 ("the inner product", "the L1 distance", "one minus the inner product squared", "the angle in degrees"),
                 0, "cos(a, b) = a·b / (|a||b|), and |a| = |b| = 1, so an inner-product index (IndexFlatIP) "
                    "ranks by cosine."),
        Question("'Lost in the middle' says models use retrieved context best when the key passage is...",
                 ("in the middle of a long prompt", "at the beginning or the end", "repeated three times", "left out"),
                 1, "Accuracy is U-shaped in the passage's position (Liu et al. 2023)."),
    ],
}
