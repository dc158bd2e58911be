"""The SASRec network (torch), kept apart so that importing the recommenders stays light:
:mod:`.sasrec` imports this module only to train, score or load.
"""

from __future__ import annotations

import math

import torch
from torch import nn

PADDING = 0  # item code c is token c + 1


class SASRecNetwork(nn.Module):
    """The SASRec network: ``forward(tokens [B, W]) -> hidden [B, W, hidden]``.

    ``tokens`` are item codes + 1, left-padded with 0; the last column is the newest
    item. ``item_scores(hidden [..., hidden]) -> [..., n_items]`` are the tied-embedding
    logits of the next item.
    """

    def __init__(
        self, n_items: int, *, max_length: int, hidden: int, blocks: int, heads: int, dropout: float
    ) -> None:
        super().__init__()
        self.max_length = max_length
        self.heads = heads
        self.scale = math.sqrt(hidden)
        self.item_embedding = nn.Embedding(n_items + 1, hidden, padding_idx=PADDING)
        self.position_embedding = nn.Embedding(max_length, hidden)
        self.embedding_dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            hidden,
            heads,
            dim_feedforward=hidden,
            dropout=dropout,
            activation="relu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer, blocks, enable_nested_tensor=False, norm=nn.LayerNorm(hidden)
        )
        # Xavier-normal weights, as the SASRec reference code initialises every matrix.
        for parameter in self.parameters():
            if parameter.dim() > 1:
                nn.init.xavier_normal_(parameter)
        with torch.no_grad():
            self.item_embedding.weight[PADDING].zero_()

    def attention_mask(self, tokens: torch.Tensor) -> torch.Tensor:
        """bool ``[B * heads, W, W]``, True where query ``i`` may not attend key ``j``:
        future keys and padding keys (a padding query attends only itself, so that no
        row is fully masked)."""
        width = tokens.shape[1]
        positions = torch.arange(width, device=tokens.device)
        future = positions[None, :] > positions[:, None]
        padding_key = (tokens == PADDING)[:, None, :]
        itself = torch.eye(width, dtype=torch.bool, device=tokens.device)
        mask = future[None] | (padding_key & ~itself[None])
        return mask.repeat_interleave(self.heads, dim=0)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        width = tokens.shape[1]
        positions = torch.arange(self.max_length - width, self.max_length, device=tokens.device)
        embedded = self.item_embedding(tokens) * self.scale + self.position_embedding(positions)
        hidden: torch.Tensor = self.encoder(
            self.embedding_dropout(embedded), mask=self.attention_mask(tokens)
        )
        return hidden

    def item_scores(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits of every item (not the padding token) as the next one."""
        return hidden @ self.item_embedding.weight[1:].T
