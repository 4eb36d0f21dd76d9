"""Why peft's LLaMA-Adapter (AdaptionPromptConfig) gave a NaN loss on the tiny LM, and that it is not GQA.

LLaMA-Adapter (Zhang et al. 2023, https://arxiv.org/abs/2303.16199) learns, in the top layers,
adapter_len prompt vectors P (A, C) that every token may also attend to, scaled by a gate g that
starts at zero ("zero-init attention"):

    out = attention(x) + o_proj( g · softmax(q · k_Pᵀ / √D) · v_P )     k_P = k_proj(P), v_P = v_proj(P)

The suspicion was grouped-query attention (6 query heads share 2 KV heads). It is not:
peft reshapes k_P, v_P into H_kv = H / (k_proj.in / k_proj.out) = 6 / 3 = 2 heads and repeats
each 3 times, as Llama's own repeat_kv does; `gqa_check` recomputes the formula above
independently and agrees to float precision. (peft's factor needs C = H·D, true for the tiny LM.)

The NaN comes from half precision plus the zero gate:
1. tiny-lm is stored in FP16, and transformers 5 loads a checkpoint in its stored dtype unless
   told otherwise, so a plain `from_pretrained(path)` gives an FP16 model (core.models upcasts).
2. peft creates P and g in the dtype of q_proj: FP16 (LoRA's A and B are upcast to FP32, these are not).
3. With g = 0, P's gradient in step 1 is exactly 0 (P only reaches the loss through g·…).
4. Adam divides m̂ / (√v̂ + eps) with eps = 1e-8, which rounds to 0 in FP16 (smallest FP16
   subnormal ≈ 6e-8): 0 / (0 + 0) = NaN. P becomes NaN after step 1, so the loss of step 2 is NaN.
In FP32 the same step is 0 / 1e-8 = 0 and training proceeds, so peft_families includes LLaMA-Adapter
on the FP32 model. Shapes: B batch, T tokens, H heads, H_kv KV heads, D head dim, A adapter_len.
"""
import copy
from dataclasses import dataclass

import torch

from core.finetuning.finetune import encode_pairs, lm_loss, load_task


@dataclass(frozen=True)
class AdaptionPromptFinding:
    heads: int  # H query heads ...
    kv_heads: int  # ... sharing H_kv key/value heads
    peft_factor: int  # k_proj.in_features // k_proj.out_features: peft's H / H_kv
    gqa_max_diff: float  # max |peft's adapter output - our formula| with the gate set to 1
    gqa_max_abs: float  # max |adapter output|, for scale
    fp32_losses: tuple  # losses of the first steps on the FP32 model
    fp16_losses: tuple  # the same steps on an FP16 copy: NaN from step 2
    first_prompt_grad_max: float  # max |∂loss/∂P| in step 1: exactly 0 because g = 0
    fp16_eps_is_zero: bool  # torch.tensor(1e-8, dtype=float16) == 0
    fp16_prompt_nan_after_step1: bool  # P holds NaN after Adam's first FP16 update


def with_adaption_prompt(model, adapter_len: int = 8, adapter_layers: int = 6, seed: int = 0):
    """A deep copy of `model` with peft's LLaMA-Adapter in its top `adapter_layers` layers (at most all L)."""
    from peft import AdaptionPromptConfig, get_peft_model

    torch.manual_seed(seed)  # P is drawn from N(0, 1)
    config = AdaptionPromptConfig(adapter_len=adapter_len, task_type="CAUSAL_LM",
                                  adapter_layers=min(adapter_layers, model.config.num_hidden_layers))
    return get_peft_model(copy.deepcopy(model), config)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(…, D) -> (…, D): [x1, x2] -> [-x2, x1], the RoPE partner of each coordinate."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


@torch.no_grad()
def gqa_check(model, tokenizer) -> tuple[float, float]:
    """(max |peft adapter output - independent formula|, max |adapter output|) in the top layer, gate = 1."""
    adapted = with_adaption_prompt(model, adapter_len=4, adapter_layers=1)
    wrapper = adapted.get_base_model().model.layers[-1].self_attn  # peft's AdaptedAttention
    wrapper.adaption_gate.fill_(1.0)  # at 0 the adapter adds nothing and there is nothing to compare
    captured = {}
    hooks = [wrapper.register_forward_pre_hook(lambda m, args, kwargs: captured.update(kwargs=kwargs),
                                               with_kwargs=True),
             wrapper.register_forward_hook(lambda m, args, kwargs, out: captured.update(out=out[0]),
                                           with_kwargs=True)]
    try:
        adapted(input_ids=torch.tensor([[tokenizer.eos_token_id] + tokenizer.encode("Let there be light")]))
    finally:
        for hook in hooks:
            hook.remove()
    attention = wrapper.model  # the original LlamaAttention
    peft_adapter_out = captured["out"] - attention(**captured["kwargs"])[0]  # (1, T, C)

    hidden = captured["kwargs"]["hidden_states"]  # (1, T, C)
    B, T, _ = hidden.shape
    H, H_kv, D = model.config.num_attention_heads, model.config.num_key_value_heads, model.config.head_dim
    cos, sin = captured["kwargs"]["position_embeddings"]  # (1, T, D)
    q = attention.q_proj(hidden).view(B, T, H, D).transpose(1, 2)  # (B, H, T, D)
    q = q * cos.unsqueeze(1) + rotate_half(q) * sin.unsqueeze(1)  # RoPE on queries; P's keys get none
    P = wrapper.adaption_prompt  # (1, A, C)
    A = P.shape[1]
    k_P = attention.k_proj(P).view(1, A, H_kv, D).transpose(1, 2)  # (1, H_kv, A, D)
    v_P = attention.v_proj(P).view(1, A, H_kv, D).transpose(1, 2)  # (1, H_kv, A, D)
    k_P = k_P.repeat_interleave(H // H_kv, dim=1)  # (1, H, A, D): query head h reads KV head h // (H / H_kv)
    v_P = v_P.repeat_interleave(H // H_kv, dim=1)  # (1, H, A, D)
    probs = torch.softmax(q @ k_P.transpose(-1, -2) / D**0.5, dim=-1)  # (B, H, T, A)
    mixed = (wrapper.adaption_gate * probs @ v_P).transpose(1, 2).reshape(B, T, H * D)  # (B, T, H·D)
    ours = attention.o_proj(mixed)  # (B, T, C)
    return (peft_adapter_out - ours).abs().max().item(), ours.abs().max().item()


def first_steps(model, tokenizer, steps: int = 2, lr: float = 1e-2, seed: int = 0) -> tuple[tuple, float, bool]:
    """(losses, max |∂loss/∂P| of step 1, P has NaN after step 1) for a few Adam steps of LLaMA-Adapter."""
    adapted = with_adaption_prompt(model, seed=seed)
    input_ids, labels = encode_pairs(tokenizer, load_task()[0][:8])
    params = [p for p in adapted.parameters() if p.requires_grad]
    prompts = [p for n, p in adapted.named_parameters() if n.endswith("adaption_prompt")]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    losses, grad_max, nan_after_first = [], float("nan"), False
    adapted.train()
    for step in range(min(steps, 5)):
        optimizer.zero_grad(set_to_none=True)
        loss = lm_loss(adapted, input_ids, labels)
        loss.backward()
        if step == 0:
            grad_max = max(p.grad.abs().max().item() for p in prompts)
        optimizer.step()
        if step == 0:
            nan_after_first = any(torch.isnan(p).any().item() for p in prompts)
        losses.append(loss.item())
    return tuple(losses), grad_max, nan_after_first


def investigate(model, tokenizer, steps: int = 2) -> AdaptionPromptFinding:
    """Both halves of the finding on copies of the FP32 `model`: GQA is handled, FP16 Adam is not."""
    fp32_losses, grad_max, _ = first_steps(model, tokenizer, steps)
    fp16_losses, _, nan_after = first_steps(copy.deepcopy(model).half(), tokenizer, steps)
    diff, scale = gqa_check(model, tokenizer)
    k_proj = model.model.layers[0].self_attn.k_proj
    return AdaptionPromptFinding(
        heads=model.config.num_attention_heads, kv_heads=model.config.num_key_value_heads,
        peft_factor=k_proj.in_features // k_proj.out_features, gqa_max_diff=diff, gqa_max_abs=scale,
        fp32_losses=fp32_losses, fp16_losses=fp16_losses, first_prompt_grad_max=grad_max,
        fp16_eps_is_zero=bool(torch.tensor(1e-8, dtype=torch.float16) == 0),
        fp16_prompt_nan_after_step1=nan_after)


if __name__ == "__main__":
    from core.models import load_causal_lm

    base, tok = load_causal_lm("tiny-lm")
    f = investigate(base, tok, steps=3)
    print(f"GQA: {f.heads} query heads, {f.kv_heads} KV heads, peft's factor {f.peft_factor}; "
          f"peft vs our formula max |Δ| {f.gqa_max_diff:.1e} (outputs up to {f.gqa_max_abs:.2f})")
    print(f"step-1 gradient of the adaption prompt: max |g| = {f.first_prompt_grad_max} (the gate starts at 0)")
    print(f"1e-8 in FP16 is zero: {f.fp16_eps_is_zero}; prompt NaN after the first FP16 Adam step: "
          f"{f.fp16_prompt_nan_after_step1}")
    print(f"losses FP32: {[round(x, 3) for x in f.fp32_losses]}")
    print(f"losses FP16: {[round(x, 3) for x in f.fp16_losses]}")
