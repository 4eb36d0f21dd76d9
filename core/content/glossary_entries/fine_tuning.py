"""The glossary's entries for the Fine-tuning page (core.content.glossary_entries)."""
from core.content.glossary_entries.entry import MATH, Entry

ENTRIES = (
    Entry("fine-tuning", "Training a pretrained model further on task data; full fine-tuning updates every weight "
          "and needs a gradient and optimizer state for each.", "Fine-tuning", aliases=("full fine-tuning",)),
    Entry("SFT", "Supervised fine-tuning on prompt/response pairs (instruction tuning); the standard recipe masks "
          "the prompt, so the loss covers the response tokens only.", "Fine-tuning",
          "Instruction tuning: the loss on the response", aliases=("supervised fine-tuning", "instruction tuning")),
    Entry("LoRA", "Low-rank adaptation: freeze W and train ΔW = (α/r)·B·A, B (d_out × r) and A (r × d_in), "
          "r·(d_in + d_out) parameters instead of d_in·d_out.", "Fine-tuning", MATH,
          "Hu et al. 2021 (arXiv 2106.09685)", ("low-rank adaptation",)),
    Entry("LoRA rank", "r, the inner dimension of B·A: it caps the rank of the update and sets its cost, 2·d·r "
          "parameters for a d × d matrix.", "Fine-tuning", MATH, aliases=("rank",)),
    Entry("LoRA alpha", "α in (α/r)·B·A: it keeps the update's size roughly fixed when r changes, so the learning "
          "rate need not be retuned.", "Fine-tuning", MATH, aliases=("alpha",)),
    Entry("adapter", "A small trainable module added to a frozen model (bottleneck layers between sublayers, or "
          "LoRA's low-rank matrices beside a weight); one base model can carry many.", "Fine-tuning", MATH,
          "Houlsby et al. 2019 (arXiv 1902.00751)"),
    Entry("LoRA merge", "Adding (α/r)·B·A into W after training: one matrix again, so inference costs nothing "
          "extra.", "Fine-tuning", MATH, aliases=("merge_and_unload",)),
    Entry("QLoRA", "LoRA adapters trained in 16-bit on a base model frozen in 4-bit NF4: a 65B model fine-tuned "
          "on one 48 GB GPU.", "Fine-tuning", MATH, "Dettmers et al. 2023 (arXiv 2305.14314)"),
    Entry("Adam", "The usual optimizer: two running averages (moments) per trainable parameter give each its own "
          "step size, so its state is twice the trainable parameters.", "Fine-tuning", "Memory",
          "Kingma and Ba 2014 (arXiv 1412.6980)", ("optimizer state", "AdamW")),
    Entry("gradient", "The derivative of the loss with respect to a weight; backpropagation computes one for "
          "every trainable parameter.", "Fine-tuning", "Memory"),
    Entry("activation memory", "The intermediate values the forward pass keeps for the backward pass; LoRA still "
          "stores most of them, because gradients must flow back through every layer.", "Fine-tuning", "Memory",
          aliases=("activations",)),
    Entry("held-out set", "Examples never trained on, used to tell whether a model generalises or memorises.",
          "Fine-tuning", "Loss", aliases=("held out",)),
    Entry("PEFT", "Parameter-efficient fine-tuning: freeze the pretrained weights and train a small set of new or "
          "selected parameters (LoRA, adapters, prompts, IA³), a fraction of a percent of the model.", "Fine-tuning",
          "PEFT families on one task", aliases=("parameter-efficient fine-tuning",)),
    Entry("DoRA", "Weight-decomposed LoRA: W' = m · (W + BA) / ‖W + BA‖ per column, training a magnitude m beside "
          "LoRA's direction update; merges into W like LoRA.", "Fine-tuning", "PEFT families on one task",
          "Liu et al. 2024 (arXiv 2402.09353)"),
    Entry("IA³", "Learned vectors that rescale the keys, the values and the MLP's hidden activations: a few "
          "thousand parameters, and a diagonal change of W that merges into it.", "Fine-tuning",
          "PEFT families on one task", "Liu et al. 2022 (arXiv 2205.05638)", ("IA3",)),
    Entry("prompt tuning", "Learning n virtual token embeddings placed before every input, the model frozen: "
          "n·C parameters, paid for in context on every query.", "Fine-tuning", "PEFT families on one task",
          "Lester et al. 2021 (arXiv 2104.08691)", ("soft prompt",)),
    Entry("prefix tuning", "Learning n virtual keys and values for the attention of every layer, the model frozen; "
          "every token can attend to them.", "Fine-tuning", "PEFT families on one task",
          "Li and Liang 2021 (arXiv 2101.00190)"),
    Entry("LLaMA-Adapter", "Learned prompt vectors that the top layers' attention reads through a gate starting "
          "at zero, so training starts at the pretrained model.", "Fine-tuning", "PEFT families on one task",
          "Zhang et al. 2023 (arXiv 2303.16199)", ("adaption prompt",)),
    Entry("double quantization", "Quantizing the quantization constants: NF4's per-block scales stored in 8 bits "
          "with one FP32 scale per 256 of them, about 4.127 bits per weight instead of 4.5.", "Fine-tuning",
          "QLoRA: LoRA on a 4-bit base", "Dettmers et al. 2023 (arXiv 2305.14314)"),
    Entry("chat template", "The fixed text format a chat model was tuned on (roles, separators, end-of-turn "
          "tokens), kept with its tokenizer and applied by apply_chat_template.", "Fine-tuning",
          "Instruction tuning: the loss on the response"),
    Entry("loss mask", "Labels set to -100 on the tokens the loss must ignore, such as the prompt in SFT: the model "
          "reads them but is not trained to write them.", "Fine-tuning",
          "Instruction tuning: the loss on the response", aliases=("response mask",)),
    Entry("reward model", "A network scoring a response to a prompt with one number, trained on human preference "
          "pairs; RLHF optimises the policy against it.", "Fine-tuning", "Preference tuning: reward model and DPO",
          "Ouyang et al. 2022 (arXiv 2203.02155)"),
    Entry("Bradley-Terry model", "P(y_w preferred to y_l) = σ(r_w − r_l): only reward differences matter; its loss "
          "−log σ(r_w − r_l) trains reward models and, with implicit rewards, DPO.", "Fine-tuning",
          "Preference tuning: reward model and DPO", "Bradley and Terry 1952", ("Bradley-Terry loss",)),
    Entry("RLHF", "Reinforcement learning from human feedback: SFT, then a reward model fit to preferences, then "
          "PPO against that reward with a KL penalty to the SFT model.", "Fine-tuning",
          "Preference tuning: reward model and DPO", "Ouyang et al. 2022 (arXiv 2203.02155)",
          ("reinforcement learning from human feedback",)),
    Entry("PPO", "Proximal policy optimization: a policy-gradient method whose clipped objective keeps each update "
          "close to the previous policy; RLHF's third stage.", "Fine-tuning",
          "Preference tuning: reward model and DPO", "Schulman et al. 2017 (arXiv 1707.06347)",
          ("proximal policy optimization",)),
    Entry("DPO", "Direct preference optimization: the Bradley-Terry loss on β·log π/π_ref of chosen and rejected "
          "answers, training the policy on preference pairs without a reward model or RL.", "Fine-tuning",
          "Preference tuning: reward model and DPO", "Rafailov et al. 2023 (arXiv 2305.18290)",
          ("direct preference optimization",)),
    Entry("KL penalty", "A cost on the KL divergence from the tuned policy to the reference model, keeping it close "
          "to what it knew; β sets its weight in RLHF and DPO.", "Fine-tuning",
          "Preference tuning: reward model and DPO", aliases=("KL divergence",)),
    Entry("few-shot prompting", "Putting worked examples in the prompt so the model infers the task in context, "
          "without training; it works well only in large models.", "Fine-tuning",
          "Guide: prompting, RAG, fine-tuning or PEFT?", "Brown et al. 2020 (arXiv 2005.14165)",
          ("in-context learning", "few-shot")),
)
