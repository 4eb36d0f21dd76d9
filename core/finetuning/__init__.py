"""Fine-tuning and alignment: adapting a pretrained model to a task, in full or through a few trainable
parameters, then to preferences.

Modules:
- finetune: full fine-tuning against LoRA (peft) on the tiny LM: trainable parameters, memory, time, loss.
- loop: a bounded training loop (steps, a wall-clock deadline, a stop callback) and a cache-free greedy decoder
  shared by every method.
- bottleneck: Houlsby adapters, written here, inserted after attention and MLP.
- adaption_prompt: why peft's LLaMA-Adapter gave NaN on tiny-lm (FP16 gate and prompt with Adam), reproduced.
- peft_families: full, LoRA, DoRA, adapters, prompt and prefix tuning, IA3, LLaMA-Adapter on one task; merging
  checked and timed; the held-out answer-token loss every approach is measured by.
- qlora: LoRA on an NF4 base, measured beside LoRA, and the QLoRA paper's memory arithmetic.
- instruction: a chat template and SFT with the loss on every token or masked to the response.
- preference: a Bradley-Terry reward model and DPO, with margins, accuracy and KL to the reference.
- guide: prompting vs RAG vs fine-tuning vs PEFT, filled with the page's measurements (few-shot prompting measured).
"""
