"""Bottleneck adapters (Houlsby et al. 2019, https://arxiv.org/abs/1902.00751), written out by hand.

The first parameter-efficient method: freeze the whole network and insert, after the attention
block and after the MLP of every layer, a small bottleneck with its own skip connection

    adapter(h) = h + W_up · act(W_down · h + b_down) + b_up      W_down: (m, C), W_up: (C, m), m ≪ C

applied to the sub-layer's output before the residual stream adds it back (the paper's Figure 2).
W_up and b_up start at zero, so every adapter starts as the identity and the adapted model is
exactly the pretrained one at step 0 (the same trick as LoRA's B = 0).

One adapter costs 2·C·m + C + m parameters (two matrices and two biases); a model gets 2 per layer.
Unlike LoRA it cannot be merged into the frozen weights: the nonlinearity between W_down and W_up
stays in the forward pass, so inference pays for 2·L extra small matrix products.
(Houlsby et al. also train the layer norms; we keep them frozen so the count is adapters only.)
Shapes: B batch, T tokens, C model dim, m bottleneck size.
"""
import copy

import torch
from torch import nn


class BottleneckAdapter(nn.Module):
    """h (B, T, C) -> h + up(act(down(h))) (B, T, C); the identity at initialisation."""

    def __init__(self, hidden_size: int, bottleneck: int):
        super().__init__()
        self.down = nn.Linear(hidden_size, bottleneck)  # W_down (m, C), b_down (m,)
        self.act = nn.GELU()
        self.up = nn.Linear(bottleneck, hidden_size)  # W_up (C, m), b_up (C,)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden + self.up(self.act(self.down(hidden)))  # (B, T, C)


class AttentionWithAdapter(nn.Module):
    """Wraps a decoder layer's self-attention: its output (first element) goes through the adapter."""

    def __init__(self, attention: nn.Module, adapter: BottleneckAdapter):
        super().__init__()
        self.attention, self.adapter = attention, adapter

    def forward(self, *args, **kwargs):
        attn_output, *rest = self.attention(*args, **kwargs)  # (B, T, C), attention weights or None
        return (self.adapter(attn_output), *rest)


class MLPWithAdapter(nn.Module):
    """Wraps a decoder layer's MLP: x (B, T, C) -> adapter(mlp(x)) (B, T, C)."""

    def __init__(self, mlp: nn.Module, adapter: BottleneckAdapter):
        super().__init__()
        self.mlp, self.adapter = mlp, adapter

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.mlp(hidden))


def with_bottleneck_adapters(model, bottleneck: int = 16, seed: int = 0):
    """A deep copy of a Llama-style causal LM, frozen, with 2 adapters per decoder layer; `model` is untouched."""
    adapted = copy.deepcopy(model)
    for p in adapted.parameters():
        p.requires_grad_(False)
    C = adapted.config.hidden_size
    torch.manual_seed(seed)  # W_down's initialisation
    for layer in adapted.model.layers:
        layer.self_attn = AttentionWithAdapter(layer.self_attn, BottleneckAdapter(C, bottleneck))
        layer.mlp = MLPWithAdapter(layer.mlp, BottleneckAdapter(C, bottleneck))
    return adapted


def adapter_parameter_count(hidden_size: int, bottleneck: int, num_layers: int) -> int:
    """Hand formula: 2 adapters per layer, each 2·C·m + C + m. (192, 16, 6) -> 2·6·(6144 + 208) = 76,224."""
    return 2 * num_layers * (2 * hidden_size * bottleneck + hidden_size + bottleneck)


if __name__ == "__main__":
    from core.models import load_causal_lm

    base, tok = load_causal_lm("tiny-lm")
    adapted = with_bottleneck_adapters(base, bottleneck=16)
    ids = torch.tensor([[tok.eos_token_id] + tok.encode("In the beginning God created")])  # (1, T)
    with torch.no_grad():
        diff = (adapted(input_ids=ids).logits - base(input_ids=ids).logits).abs().max().item()
    trainable = sum(p.numel() for p in adapted.parameters() if p.requires_grad)
    cfg = base.config
    print(f"adapters with m=16: {trainable:,} trainable parameters; formula "
          f"{adapter_parameter_count(cfg.hidden_size, 16, cfg.num_hidden_layers):,}")
    print(f"max |logits(adapted) - logits(base)| at initialisation: {diff:.1e} (zero-initialised W_up)")
    print(adapted.model.layers[0])
