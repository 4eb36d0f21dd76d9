"""Fine-tuning: adapting a pretrained model to a task, in full or through a few trainable parameters.

Modules:
- finetune: full fine-tuning against LoRA (peft) on the tiny LM: trainable parameters, memory, time, loss.
"""
