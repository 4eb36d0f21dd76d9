"""The Transformer page's closing questions (core.content.quizzes)."""
from core.content.quizzes.question import Question

QUESTIONS = [
    Question("Why is QKᵀ divided by √D before the softmax?",
             ("To make attention causal", "To keep the dot products' variance near 1 so the softmax does not saturate",
              "To normalise each row to sum to 1", "To save memory"),
             1, "With unit-variance q and k, q·k has variance D; dividing by √D brings it back to 1, so the "
                "softmax keeps useful gradients instead of becoming one-hot (Vaswani et al. 2017 "
                "(arXiv 1706.03762), section 3.2.1).",
             "3 · The same attention, from scratch", ("scaled dot-product attention", "softmax")),
    Question("A decoder is trained with a causal mask and an encoder such as MiniLM is not. Why does the "
             "decoder need it?",
             (("Training predicts every position's next token at once: without the mask, position t could read "
              "token t+1, the very token it must predict"),
              "The mask makes attention cheaper to compute",
              "Without it the attention rows would not sum to 1",
              "The mask is what stores the KV cache"),
             0, "M = −∞ above the diagonal hides the future, so one forward pass gives T honest next-token "
                "predictions. An encoder only builds representations of a given text, so every token may see "
                "the whole sentence.",
             "3 · The same attention, from scratch", ("causal mask", "encoder", "decoder")),
    Question("MiniLM has C = 384 split into 12 heads of D = 32. Compared with a single head of dimension 384, "
             "its Q, K, V and output projections have...",
             ("the same number of weights, 4·C² = 589,824", "12 times as many weights",
              "one twelfth as many weights", "12 × 4·D² = 49,152 weights"),
             0, "Each head projects C → D, and H·D = C, so the H heads together are one C × C matrix per "
                "projection: 4·384² = 589,824 weights either way. Heads split the work; they cost nothing extra.",
             "The math", ("multi-head attention", "attention head")),
    Question("Going from a 2,048-token to an 8,192-token context, one head's score matrix QKᵀ grows by...",
             ("16×", "4×", "2×", "64×"),
             0, "It is T × T: (8,192 / 2,048)² = 4² = 16 times the scores, in compute and, if stored, in memory. "
                "The projections and MLP grow only 4×.",
             "2 · Attention maps of a real encoder", ("attention map",)),
    Question("With logits (2, 1, 0) and temperature τ = 1, the probability of the first token is about...",
             ("0.67", "0.50", "0.74", "0.33"),
             0, "softmax: e² / (e² + e¹ + e⁰) = 7.39 / 11.11 ≈ 0.665.",
             "5 · Next-token probabilities of a tiny decoder", ("logit", "softmax")),
    Question("Raising the sampling temperature above 1...",
             ("makes the next-token distribution flatter (higher entropy)", "makes it sharper",
              "changes which token is most likely", "has no effect on greedy decoding and sampling alike"),
             0, "Logits are divided by τ before the softmax: τ > 1 shrinks their differences, flattening the "
                "distribution; the ranking, and so the argmax, never changes.",
             "5 · Next-token probabilities of a tiny decoder", ("temperature", "entropy")),
    Question("The tiny LM has a vocabulary of 4,096 tokens. What is the largest entropy its next-token "
             "distribution can have?",
             ("12 bits", "4,096 bits", "8 bits", "1 bit"),
             0, "Entropy peaks for the uniform distribution: log₂ 4,096 = 12 bits. A confident model sits far "
                "below; a very high temperature pushes any distribution towards this ceiling.",
             "5 · Next-token probabilities of a tiny decoder", ("entropy", "vocabulary size")),
    Question("What does uncased BERT's tokenizer (MiniLM's) do with Chinese characters before WordPiece runs?",
             ("It puts spaces around every CJK ideograph, so each becomes a token of its own",
              "It maps all of them to [UNK]", "It transliterates them to pinyin",
              "It groups them into words with a dictionary"),
             0, "CJK ideographs (Chinese characters, Japanese kanji) are isolated one by one; Japanese kana "
                "and Korean Hangul are not, and go through WordPiece like any other word (Hangul is first "
                "decomposed into jamo by accent stripping).",
             "1 · Tokens", ("WordPiece", "token")),
    Question("In MiniLM's attention (C = 384, H = 12, D = 32), for T tokens, what goes into the output "
             "projection W_O and what comes out?",
             ("T × 384 in (the 12 heads' T × 32 outputs side by side), T × 384 out", "T × 32 in, T × 32 out",
              "12 × T × T in (the attention maps), T × 384 out", "T × 384 in, T × 32 out"),
             0, "Each head's probs · V is T × D = T × 32; twelve side by side make T × 384 = T × C, and W_O is "
                "C × C, so the output has the model's width again, as the residual x + attention(x) needs. "
                "W_O is also where the heads' results mix: before it, each head wrote only its own 32 columns.",
             "3 · The same attention, from scratch", ("multi-head attention", "output projection")),
    Question("In the head view, the lines leaving one token in one head carry weights that add up to...",
             ("1, because that token's row of the attention map is a softmax over the keys",
              "T, the number of tokens", "12, the number of heads",
              "it depends on how long the value vectors are"),
             0, "Row t of a head's map is softmax(q_t · Kᵀ / √D), a probability distribution over the T keys, "
                "so it sums to 1 for any sentence (the lines under 0.05 that are left out hold a little of it). "
                "The lines a token receives, its column, follow no such rule: [CLS] and [SEP] often collect "
                "far more than 1.",
             "2 · Attention maps of a real encoder", ("head view", "attention map", "softmax")),
]
