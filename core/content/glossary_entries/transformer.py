"""The glossary's entries for the Transformer page (core.content.glossary_entries)."""
from core.content.glossary_entries.entry import MATH, VASWANI, Entry

# the page's section headers the entries point at
T_TOKENS = "1 · Tokens"
T_MAPS = "2 · Attention maps of a real encoder"
T_SCRATCH = "3 · The same attention, from scratch"
T_NEXT = "5 · Next-token probabilities of a tiny decoder"

ENTRIES = (
    Entry("token", "A piece of text (a word, part of a word, a byte or a special symbol) that the model reads "
          "as one integer id from a fixed vocabulary.", "Transformer", T_TOKENS),
    Entry("tokenizer", "The program that cuts text into tokens and maps them to ids and back; it is learned from "
          "text before the model is trained.", "Transformer", T_TOKENS),
    Entry("WordPiece", "BERT's subword tokenizer: it spells a word from the longest pieces in its vocabulary, "
          "marking pieces that continue a word with ##; uncased BERT also lowercases, strips accents and "
          "isolates every CJK ideograph (not kana or Hangul) as a token of its own.", "Transformer", T_TOKENS,
          "Devlin et al. 2018 (arXiv 1810.04805)"),
    Entry("special token", "A vocabulary entry that is not text: BERT opens every input with [CLS], closes it "
          "with [SEP] and writes [UNK] for what it cannot spell.", "Transformer", T_TOKENS,
          aliases=("[CLS]", "[SEP]", "[UNK]")),
    Entry("embedding", "The learned vector a token id is looked up to, one row of the embedding matrix (V × C) "
          "per vocabulary entry; the model computes on these vectors, never on ids.", "Transformer", T_TOKENS,
          aliases=("embedding matrix", "embedding table")),
    Entry("attention", "Each token's new representation is a weighted average of the value vectors of the "
          "tokens it looks at, the weights being a softmax of query · key scores.", "Transformer", T_MAPS,
          VASWANI, ("self-attention",)),
    Entry("attention map", "The T × T matrix of one head's attention weights: row t is a probability "
          "distribution over the tokens that token t looks at.", "Transformer", T_MAPS),
    Entry("attention head", "One of H attentions that run side by side in a layer, each with its own query, key "
          "and value projections of size D = C / H; different heads learn different relations.",
          "Transformer", T_MAPS, aliases=("head",)),
    Entry("model view", "Every attention map of a model at once, one row per layer and one column per head (6 × 12 "
          "for MiniLM): the quickest way to spot heads that attend to the previous token or park on [SEP].",
          "Transformer", T_MAPS, "Vig 2019 (arXiv 1906.05714)"),
    Entry("head view", "One layer's attention drawn as lines from each query token to the key tokens it looks at, "
          "as opaque as the weight, one colour per head, heads toggled on and off (BertViz).", "Transformer",
          T_MAPS, "Vig 2019 (arXiv 1906.05714)", ("BertViz",)),
    Entry("query, key and value", "Three vectors projected from each token's hidden state: the query says what "
          "the token looks for, the key what it offers, the value what it hands over when chosen.",
          "Transformer", T_SCRATCH, VASWANI, ("query", "key", "value", "Q, K, V")),
    Entry("hidden state", "The vector of C numbers a layer outputs for each token; the next layer reads it, and "
          "the last one feeds the output head.", "Transformer", T_SCRATCH),
    Entry("scaled dot-product attention", "softmax(QKᵀ/√D + M)·V; dividing by √D keeps the scores' variance "
          "near 1, so the softmax does not saturate into one-hot rows with vanishing gradients.",
          "Transformer", T_SCRATCH, VASWANI, ("√D scaling",)),
    Entry("causal mask", "M = −∞ above the diagonal of the score matrix, so token t sees only tokens 1..t; it "
          "lets a decoder learn every next-token prediction of a sequence in one pass.", "Transformer", T_SCRATCH),
    Entry("multi-head attention", "H heads of dimension D = C / H whose outputs are concatenated and mixed by "
          "W_O; the projections cost 4·C² weights, exactly as one head of size C would.", "Transformer", MATH,
          VASWANI, ("MHA",)),
    Entry("output projection", "W_O, the C × C matrix after attention: it takes the heads' outputs side by side "
          "(T × C) and mixes them into one T × C output, which the residual adds to the input (BERT's "
          "attention.output.dense, Llama's o_proj).", "Transformer", T_SCRATCH, VASWANI, ("W_O", "o_proj")),
    Entry("encoder", "A Transformer whose tokens all see each other (no mask), such as BERT or MiniLM: suited to "
          "understanding and embeddings, not to generating text.", "Transformer", MATH),
    Entry("decoder", "A Transformer with a causal mask, such as GPT or Llama, trained to predict each next token "
          "and used to generate text one token at a time.", "Transformer", MATH, aliases=("decoder-only",)),
    Entry("logit", "The raw, unnormalised score a model gives each vocabulary entry; the softmax turns the "
          "logits into probabilities.", "Transformer", T_NEXT),
    Entry("softmax", "p_i = exp(z_i) / Σ_j exp(z_j): turns any vector of scores into positive probabilities that "
          "sum to 1, keeping their order.", "Transformer", T_NEXT),
    Entry("entropy", "−Σ p·log₂ p, in bits: how spread a distribution is; 0 for a certain choice, log₂ V for a "
          "uniform one over V tokens (12 bits for 4,096).", "Transformer", T_NEXT),
    Entry("RoPE", "Rotary position embedding: rotates pairs of query and key dimensions by angles proportional to "
          "the position, so their dot product depends on positions only through their distance; Llama and the "
          "tiny LM use it.", "Transformer", T_NEXT, "Su et al. 2021 (arXiv 2104.09864)",
          ("rotary position embedding",)),
)
