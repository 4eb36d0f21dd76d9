"""The glossary's entries for the Multimodal page (core.content.glossary_entries)."""
from core.content.glossary_entries.entry import MATH, Entry

# the page's section headers the entries point at
M_CLIP = "1 · Contrastive training makes a diagonal"
M_ZERO = "2 · Zero-shot classification"
M_VIT = "3 · A picture is a sentence of patches (ViT)"
M_LLAVA = "4 · From image features to an LLM (LLaVA)"
M_TRAIN = "5 · Train a tiny CLIP yourself, live"

ENTRIES = (
    Entry("CLIP", "An image encoder and a text encoder trained together so that matching pictures and captions "
          "get similar unit vectors.", "Multimodal", M_CLIP, "Radford et al. 2021 (arXiv 2103.00020)"),
    Entry("contrastive learning", "Learning by comparison: pull matching pairs together and push the other pairs "
          "of the batch apart, with no labels beyond the pairing.", "Multimodal", M_CLIP,
          aliases=("contrastive loss",)),
    Entry("InfoNCE", "Cross-entropy of picking the matching pair among the batch; CLIP applies it to the rows and "
          "the columns of the B × B similarity matrix, and chance gives ln B.", "Multimodal", M_CLIP,
          "van den Oord et al. 2018 (arXiv 1807.03748)"),
    Entry("logit scale", "CLIP's learned factor exp(t) on cosine similarities before the softmax, an inverse "
          "temperature: it starts at 1/0.07 ≈ 14.3 and is capped at 100.", "Multimodal", M_CLIP,
          aliases=("learned temperature",)),
    Entry("zero-shot classification", "Classify with labels chosen at test time: embed one prompt per label and "
          "pick the prompt most similar to the picture, with no classifier trained.", "Multimodal", M_ZERO,
          aliases=("zero-shot",)),
    Entry("ViT", "Vision Transformer: cut the image into patches, project each to a token, add position "
          "embeddings and a [CLS] token, and run a standard Transformer encoder.", "Multimodal", M_VIT,
          "Dosovitskiy et al. 2020 (arXiv 2010.11929)", ("Vision Transformer",)),
    Entry("ViT patch", "A P × P square of the image flattened to P²·3 numbers and projected by one matrix E to a "
          "token; a 224 × 224 image with P = 16 gives 196 of them.", "Multimodal", M_VIT,
          aliases=("patch", "patch token")),
    Entry("position embedding", "A vector added to each token's embedding to say where it sits, learned (BERT, "
          "ViT) or fixed; attention by itself ignores order.", "Multimodal", M_VIT,
          aliases=("positional encoding",)),
    Entry("modality gap", "In a contrastively trained space, picture embeddings and text embeddings tend to sit in "
          "two separate regions (cones), even when matching pairs are each other's nearest neighbours.",
          "Multimodal", M_TRAIN, "Liang et al. 2022 (arXiv 2203.02053)"),
    Entry("LLaVA", "A vision-language model: CLIP patch features, mapped by a trained projection into an LLM's "
          "word-embedding space, are read by the LLM as tokens in front of the text.", "Multimodal", M_LLAVA,
          "Liu et al. 2023 (arXiv 2304.08485)"),
    Entry("projector", "The trained map (a matrix in LLaVA, a 2-layer MLP in LLaVA-1.5) from image features to the "
          "LLM's embedding space.", "Multimodal", M_LLAVA, aliases=("multimodal projector",)),
    Entry("cross-entropy", "−log of the probability a model gave the right answer, averaged over examples: the loss "
          "of language models and of CLIP; its exponential over tokens is the perplexity.", "Multimodal", MATH),
)
