"""The Multimodal page's closing questions (core.content.quizzes)."""
from core.content.quizzes.question import Question

QUESTIONS = [
    Question("A 224×224 image with 16×16 patches becomes how many patch tokens?", ("14", "196", "256", "3,136"),
             1, "(224/16)² = 14² = 196 tokens (plus a [CLS] token in ViT).",
             "3 · A picture is a sentence of patches (ViT)", ("ViT patch", "ViT")),
    Question("Halving the ViT patch size P multiplies one head's attention scores per layer by about...",
             ("16", "4", "2", "8"),
             0, "Half the patch size gives 2 × 2 = 4 times the tokens, and attention scores grow with the "
                "square of the tokens: 16 times. That is why high-resolution models tile their input.",
             "3 · A picture is a sentence of patches (ViT)", ("ViT patch", "attention")),
    Question("ViT's patch embedding runs as Conv2d(3, C, kernel=P, stride=P). That is the same as...",
             ("flattening each P×P×3 patch and multiplying it by one matrix E of shape (3P², C)",
              "a convolution network like ResNet", "averaging the pixels of each patch",
              "a different matrix for every patch position"),
             0, "With stride = kernel the windows do not overlap, and each output is a dot product of one "
                "patch with the kernel: a single shared linear map (the page checks it to float rounding).",
             "3 · A picture is a sentence of patches (ViT)", ("ViT patch",)),
    Question("CLIP's contrastive loss pushes...",
             ("matching image/caption pairs together and the rest of the batch apart",
              "images to reconstruct their pixels", "captions to predict the next word", "all embeddings to zero"),
             0, "Symmetric InfoNCE over the batch's similarity matrix: the diagonal up, off-diagonal down "
                "(Radford et al. 2021 (arXiv 2103.00020)).",
             "1 · Contrastive training makes a diagonal", ("CLIP", "InfoNCE", "contrastive learning")),
    Question("With random weights every logit is about equal. What is CLIP's InfoNCE loss on a batch of "
             "B = 8 pairs?",
             ("ln 8 ≈ 2.08", "0", "8", "1/8"),
             0, "Each row and column is a uniform softmax over 8 candidates, so the cross-entropy of the right "
                "one is −ln(1/8) = ln 8. Training drives it towards 0.",
             "1 · Contrastive training makes a diagonal", ("InfoNCE", "cross-entropy")),
    Question("In a batch of B = 12 picture/caption pairs, how many mismatched pairs does CLIP's loss push apart?",
             ("132", "12", "144", "66"),
             0, "Every picture is scored against every caption: B² = 144 pairs, of which the B = 12 on the "
                "diagonal match, leaving 144 − 12 = 132. Larger batches give more negatives for free.",
             "1 · Contrastive training makes a diagonal", ("contrastive learning",)),
    Question("Why is CLIP's classification called zero-shot?",
             (("The labels are written as text prompts at test time; no classifier is trained on labelled "
              "examples of them"),
              "It needs zero images to train", "It makes zero mistakes", "It uses no text encoder"),
             0, "Embed one prompt per label and pick the one most similar to the picture: changing the label "
                "set only means writing new prompts.",
             "2 · Zero-shot classification", ("zero-shot classification", "CLIP")),
    Question("A LLaVA-style model with a ViT-L/14 image encoder at 224×224 pixels puts how many image tokens "
             "in front of the text?",
             ("256", "196", "576", "16"),
             0, "(224/14)² = 16² = 256 patch features, each projected into the LLM's embedding space. At "
                "336 pixels (LLaVA-1.5) it is 24² = 576.",
             "4 · From image features to an LLM (LLaVA)", ("LLaVA", "projector", "ViT patch")),
    Question("Train with the temperature fixed at τ = 1 (logits = cosine) and B = 32 pairs. Why can the loss "
             "never get near 0?",
             (("Cosines lie in [−1, 1]: even a perfect match against 31 captions at −1 gets p ≤ e / (e + 31e⁻¹) "
               "≈ 0.19, so the loss stays above ln(1 + 31e⁻²) ≈ 1.65"),
              "A fixed τ stops the gradients from reaching the encoders",
              "With τ = 1 the embeddings are no longer unit length",
              "32 pairs are too few negatives to learn from"),
             0, "The softmax cannot get confident on logits spread over only [−1, 1] (and 32 unit vectors cannot "
                "all be at −1 from each other: the best, a regular simplex, gives ≈ 2.49). Dividing by a small "
                "τ widens the range, which is why CLIP learns τ, starting at 0.07 (1/τ ≈ 14.3, capped at 100).",
             "5 · Train a tiny CLIP yourself, live", ("logit scale", "InfoNCE")),
]
