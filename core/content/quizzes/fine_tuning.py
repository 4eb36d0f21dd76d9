"""The Fine-tuning page's closing questions (core.content.quizzes)."""
from core.content.quizzes.question import Question

QUESTIONS = [
    Question("LoRA with rank r = 8 on a 4,096 × 4,096 weight matrix trains how many parameters for it?",
             ("65,536", "16,777,216", "32,768", "4,096"),
             0, "B is 4,096 × 8 and A is 8 × 4,096: 2 · 4,096 · 8 = 65,536, 0.4% of the 16,777,216 weights of "
                "the matrix (Hu et al. 2021 (arXiv 2106.09685)).",
             "The math", ("LoRA", "LoRA rank")),
    Question("Full fine-tuning of a model with 7 × 10⁹ parameters keeps an FP32 gradient and Adam's two FP32 "
             "moments per parameter. How much memory do those take, weights not counted?",
             ("84 GB", "28 GB", "56 GB", "14 GB"),
             0, "4 bytes of gradient + 2 × 4 bytes of moments = 12 bytes per parameter: 12 × 7 × 10⁹ = 84 GB. "
                "LoRA needs them only for its adapters, a fraction of a percent of that.",
             "Memory", ("Adam", "gradient", "fine-tuning")),
    Question("Why is LoRA's B initialised to zero and A at random?",
             ("So that BA = 0 and training starts exactly at the pretrained model, while gradients still reach B",
              "So that both start at zero and stay small", "To save memory at the first step",
              "Because A is frozen"),
             0, "With B = 0 the adapted layer equals the base one at step 0. B's gradient is the output's "
                "gradient times (Ax)ᵀ, not zero since A is random; A's gradient contains B, so it starts once B "
                "has moved. Both zero would leave every gradient zero forever.",
             "The math", ("LoRA",)),
    Question("After training LoRA with r = 8 on a 192 × 192 matrix, the update ΔW = (α/r)·BA has rank...",
             ("at most 8", "exactly 192", "at least 8", "at most 4"),
             0, "BA is a product through an 8-dimensional bottleneck, so its rank is at most r = 8, however "
                "long it trains; full fine-tuning's ΔW can reach 192.",
             "The math", ("LoRA rank",)),
    Question("LoRA trains under 1% of the weights, yet its peak memory during a step is not 100× smaller. Why?",
             (("Activations are still stored: gradients must flow back through every layer to reach the "
              "earliest adapters"),
              "LoRA keeps a second copy of the model", "Adam's moments are kept for frozen weights too",
              "PyTorch cannot free memory during training"),
             0, "What LoRA saves is gradients and optimizer state of the frozen weights. The forward pass "
                "keeps the same activations for the backward pass as full fine-tuning does.",
             "Memory", ("activation memory", "LoRA")),
    Question("In standard supervised fine-tuning on prompt/response pairs, which tokens does the loss cover?",
             ("Only the response tokens: the prompt's labels are masked out",
              "Every token, prompt included", "Only the prompt tokens", "Only the last token"),
             0, "Masking the prompt teaches the model to answer rather than to write prompts. The first "
                "section's demo is a simplification (its loss covers every token, so the tiny LM also learns the "
                "'Question:' template); the Instruction tuning section trains both ways and measures the mask.",
             "Instruction tuning: the loss on the response", ("SFT", "loss mask")),
    Question("Why does LoRA scale BA by α/r?",
             (("So the update's size stays roughly the same when r changes, and the learning rate need not "
              "be retuned"),
              "To make ΔW full rank", "To normalise the rows of W", "To match the dtype of W"),
             0, "Doubling r doubles the terms in BA; dividing by r compensates, so α alone sets the scale.",
             "The math", ("LoRA alpha", "LoRA rank")),
    Question("QLoRA fine-tunes a 65B-parameter model on one 48 GB GPU mainly because...",
             (("the frozen base is stored in 4-bit NF4 (about 33 GB for 65B) and only the small 16-bit adapters "
              "get gradients and Adam state"),
              "it trains in 4-bit end to end", "it skips the backward pass", "it prunes half of the layers"),
             0, "65 × 10⁹ weights × 0.5 byte ≈ 32.5 GB; the adapters and their optimizer state are tiny, and "
                "paged optimizers absorb the peaks (Dettmers et al. 2023 (arXiv 2305.14314)).",
             "The math", ("QLoRA", "NF4", "adapter")),
    Question("Which of these methods can be merged into the frozen weights after training, so that inference "
             "costs exactly what the base model costs?",
             ("LoRA and IA³: both are linear in W (W + BA, or a diagonal rescaling of W)",
              "Bottleneck adapters", "Prompt tuning", "Prefix tuning"),
             0, "A merged LoRA or IA³ model is a plain Llama again; the page times base, unmerged and merged "
                "forward passes. An adapter keeps a nonlinearity between its two matrices, and prompt and "
                "prefix tuning add virtual tokens or keys and values to every sequence.",
             "PEFT families on one task", ("LoRA merge", "IA³", "adapter", "prompt tuning", "prefix tuning")),
    Question("IA³ on tiny-lm (6 layers; k_proj and v_proj each output 64 values, grouped-query attention; the MLP "
             "is 512 wide) learns one scale per key, value and MLP hidden unit. How many parameters is that?",
             ("3,840", "1,152", "30,720", "6,912"),
             0, "6 · (64 + 64 + 512) = 3,840: 0.12% of tiny-lm's 3.15M, ten times fewer than LoRA r = 8 on q "
                "and v (Liu et al. 2022 (arXiv 2205.05638)).",
             "PEFT families on one task", ("IA³", "PEFT")),
    Question("peft's LLaMA-Adapter gave a NaN loss from step 2 on an FP16 copy of tiny-lm. What causes it?",
             (("The zero-initialised gate gives the prompt a zero gradient, and Adam's ε = 1e-8 is 0 in FP16: "
               "its first update is 0 / 0"),
              "Grouped-query attention gives the prompt keys the wrong shape",
              "The learning rate is too high for FP16", "RoPE is applied to the prompt keys"),
             0, "peft handles grouped-query attention correctly (the page recomputes the adapter's output "
                "independently). In FP32 the same first update is 0 / 1e-8 = 0 and training proceeds; peft "
                "creates the prompt and gate in the base layer's dtype, so an FP16 base gives FP16 parameters.",
             "PEFT families on one task", ("LLaMA-Adapter", "Adam")),
    Question("NF4 in blocks of 64 with double quantization (8-bit block scales, one FP32 scale per 256 of them) "
             "stores a weight in how many bits?",
             ("≈ 4.127", "4.5", "4.0", "8.0"),
             0, "4 bits of code + 8/64 for the block scale + 32/(64 · 256) for the scale of the scales ≈ 4.127; "
                "without double quantization the FP32 block scale costs 32/64 = 0.5 bit, 4.5 in all "
                "(Dettmers et al. 2023 (arXiv 2305.14314)).",
             "QLoRA: LoRA on a 4-bit base", ("double quantization", "NF4", "QLoRA")),
    Question("On this page's CPU, a QLoRA step is slower than a LoRA step on the same model. Why use QLoRA at all?",
             (("It trades time for memory: each pass dequantizes the 4-bit blocks just in time, and the 4-bit base "
               "is what lets a 65B model fit one GPU"),
              "It trains fewer parameters than LoRA", "It makes the trained model 4-bit at inference only",
              "It is faster on GPUs because 4-bit matrix products need no dequantization"),
             0, "The trainable parameters are the same LoRA matrices. What shrinks is the frozen base, to about "
                "a quarter of 16 bits; the compute still happens in 16 or 32 bits after dequantizing.",
             "QLoRA: LoRA on a 4-bit base", ("QLoRA", "NF4")),
    Question("In SFT with the loss masked to the response, why does the end-of-text token after the answer "
             "still carry loss?",
             ("So the model learns to stop after answering", "Because the mask cannot cover special tokens",
              "To teach the chat template", "It does not: special tokens never carry loss"),
             0, "Stopping is part of the answer: without a target at the end-of-text position a tuned model "
                "answers and then keeps writing. The page highlights it among the tokens that carry loss.",
             "Instruction tuning: the loss on the response", ("SFT", "loss mask", "chat template")),
    Question("A Bradley-Terry reward model scores r(x, y_w) = 2 and r(x, y_l) = 0. What probability does it give "
             "that people prefer y_w?",
             ("σ(2) ≈ 0.88", "2 / (2 + 0) = 1", "0.5", "e² ≈ 7.4"),
             0, "P(y_w ≻ y_l) = σ(r_w − r_l) = 1 / (1 + e⁻²) ≈ 0.88; only the difference of rewards matters, "
                "and its loss −log σ(2) ≈ 0.13.",
             "Preference tuning: reward model and DPO", ("reward model", "Bradley-Terry model")),
    Question("At DPO's first step the policy equals the reference model. What is the DPO loss of every pair then?",
             ("log 2 ≈ 0.693", "0", "β", "It is undefined"),
             0, "Every log-ratio log π/π_ref is 0, so every implicit reward and margin is 0 and −log σ(0) = log 2; "
                "the page's curves start there (Rafailov et al. 2023 (arXiv 2305.18290)).",
             "Preference tuning: reward model and DPO", ("DPO",)),
    Question("What does DPO remove from the RLHF pipeline of SFT, reward model and PPO?",
             (("The separate reward model and the PPO sampling loop: the policy's log-ratio to the reference "
               "is the reward"),
              "The SFT stage", "The preference data", "The reference model"),
             0, "The KL-penalised objective RLHF optimises has a closed-form optimum, so r = β log π/π_ref + "
                "β log Z(x); in the Bradley-Terry loss Z(x) cancels and one supervised loss on the pairs is left. "
                "The SFT model stays, as the start and as π_ref.",
             "Preference tuning: reward model and DPO", ("DPO", "RLHF", "PPO", "KL penalty")),
    Question("In DPO, what does a smaller β do?",
             ("Lets the policy move further from the reference: a weaker KL leash",
              "Keeps the policy closer to the reference", "Lowers the learning rate", "Shortens the answers"),
             0, "β is the weight of the KL penalty in the objective DPO solves; the implicit reward β log π/π_ref "
                "needs larger log-ratios to reach the same margin when β is small.",
             "Preference tuning: reward model and DPO", ("DPO", "KL penalty")),
    Question("A support assistant must answer from a product manual that changes every week. What should you "
             "try first?",
             ("Retrieval (RAG) over the manual, with a prompt that asks for cited answers",
              "Full fine-tuning on the manual every week", "LoRA on the manual", "A longer system prompt only"),
             0, "Knowledge that changes belongs in the context, retrieved per query: no retraining, and answers "
                "can cite their passage. Fine-tuning teaches behaviour and format; a few-shot prompt cannot hold "
                "a whole manual.",
             "Guide: prompting, RAG, fine-tuning or PEFT?", ("RAG", "few-shot prompting", "PEFT")),
]
