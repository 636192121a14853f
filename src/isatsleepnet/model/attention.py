"""Multi-head scaled dot-product attention, shared by the cross- and self-attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from isatsleepnet.model.fastops import linear, make_linear


SCORES_PER_CHUNK = 1 << 18
"""Without autograd, attention runs over chunks of examples whose score maps
hold about this many floats (1 MB, a core's L2 cache): the softmax then reads
and writes cache, not memory. 1.5-2.4x faster attention at batch 32 on one
core (measured), same results."""


def _plain_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """softmax(q k^T) v for (B, H, T, Dh) tensors, q already scaled; chunked over B without autograd."""
    batch, heads, t_q, _ = q.shape
    chunk = max(1, SCORES_PER_CHUNK // (heads * t_q * k.shape[2]))
    if batch <= chunk or (torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)):
        return torch.matmul(torch.softmax(torch.matmul(q, k.transpose(-1, -2)), dim=-1), v)
    out = q.new_empty(q.shape[:-1] + v.shape[-1:])
    for start in range(0, batch, chunk):
        part = slice(start, start + chunk)
        scores = torch.matmul(q[part], k[part].transpose(-1, -2))           # (chunk, H, Tq, Ts)
        torch.matmul(torch.softmax(scores, dim=-1), v[part], out=out[part])
    return out


class MultiHeadAttention(nn.Module):
    """Queries from one sequence, keys/values from another (the same one for self-attention).

    Same parameter count as nn.MultiheadAttention (4 D^2 + 4 D); written out so
    that the key/value projection is one matmul. The eager reference uses
    ``F.scaled_dot_product_attention``; the fast path on CPU the plain
    softmax(q k^T / sqrt(d)) v, which is faster there (see ``attend``).
    """

    def __init__(self, dim: int, heads: int, *, fast: bool = False) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.q_proj = make_linear(dim, dim, fast=fast)
        self.kv_proj = make_linear(dim, 2 * dim, fast=fast)
        self.out_proj = make_linear(dim, dim, fast=fast)
        self.fast = fast

    def attend(self, q: Tensor, kv: Tensor) -> Tensor:
        """Projected queries (B, Tq, D) and keys|values (B, Ts, 2D) -> (B, Tq, D), before out_proj."""
        batch, t_q, dim = q.shape
        head_dim = dim // self.heads
        q = q.view(batch, t_q, self.heads, head_dim).transpose(1, 2)
        k, v = kv.view(batch, kv.shape[1], 2, self.heads, head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        if self.fast and q.device.type == "cpu":
            # on CPU the plain formulation (two batched matmuls and a softmax) is
            # ~1.4x faster than the fused kernel with 2 threads, and as fast with 1
            out = _plain_attention(q * head_dim ** -0.5, k, v)
        else:
            out = F.scaled_dot_product_attention(q, k, v)             # (B, H, Tq, Dh)
        return out.transpose(1, 2).reshape(batch, t_q, dim)

    def forward(self, query: Tensor, source: Tensor) -> Tensor:
        """query (B, Tq, D), source (B, Ts, D) -> (B, Tq, D)."""
        if self.fast and query is source:  # self-attention: one product for q, k and v
            weight = torch.cat([self.q_proj.weight, self.kv_proj.weight])
            bias = torch.cat([self.q_proj.bias, self.kv_proj.bias])
            q, kv = linear(query, weight, bias).split([query.shape[-1], 2 * query.shape[-1]], dim=-1)
            return self.out_proj(self.attend(q, kv))
        return self.out_proj(self.attend(self.q_proj(query), self.kv_proj(source)))

