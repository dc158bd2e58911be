"""SASRec: self-attentive sequential recommendation, trained with a softmax loss.

Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018: item embeddings
plus learned position embeddings go through causal self-attention blocks; the hidden
state at position ``t`` scores every item as the next one by a dot product with the
(shared) item embeddings, ``r_{i,t} = F_t . M_i`` (eq. 6, shared item embedding).

The original trains with binary cross-entropy on one sampled negative. Here the loss is
the cross-entropy of a softmax over *all* items at every position (Klenitskiy &
Vasilev, "Turning Dross Into Gold Loss: is BERT4Rec really better than SASRec?", RecSys
2023), or, with ``n_negatives``, a sampled softmax over the positive and
``n_negatives`` uniformly drawn items (Petrov & Macdonald, gSASRec, RecSys 2023; the
eSASRec benchmark of Tikhonovich et al. 2025 uses 256 per position). Here the
negatives of a batch are shared by all its positions (as the batch negatives of Yi et
al., "Sampling-Bias-Corrected Neural Modeling", RecSys 2019), which makes 1,000+
negatives as cheap as a few hundred per position.

Blocks are pre-LayerNorm transformer encoder layers (``norm_first``) under a causal mask,
followed by a final LayerNorm. Sequences are left-padded and right-aligned, positions
counted back from the newest item, and queries never attend padding, so extra left
padding changes nothing: batches are cut to their longest sequence.

Training holds out each user's last training item (users with at least three) and
stops early on the NDCG@10 of ranking it (history items excluded, as the seq-loo
protocol does); the best epoch's weights are kept.
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from shopsense.core.errors import ConfigurationError
from shopsense.evaluation.metrics import ndcg, relevance, truth_sizes
from shopsense.features.interactions import Interactions
from shopsense.models.recommend._common import (
    ScoringRecommender,
    check_histories,
    cold_rows_to_popularity,
    load_weights,
    model_params,
    save_weights,
    similar_by_rows,
)
from shopsense.models.recommend.base import (
    FloatArray,
    Holdout,
    IntArray,
    Recommendations,
    check_fitted,
    read_manifest,
    write_manifest,
)

if TYPE_CHECKING:
    import torch

    from shopsense.models.recommend._sasrec_network import SASRecNetwork

logger = logging.getLogger(__name__)
VALIDATION_CUTOFF = 10
SCORE_BATCH = 1024


class SASRec(ScoringRecommender):
    """SASRec (Kang & McAuley 2018) with full or sampled softmax cross-entropy.

    Parameters
    ----------
    max_length:
        The newest ``max_length`` items of a history are used (training and scoring).
    hidden:
        Embedding and hidden size (also the feed-forward width, as in the paper).
    blocks:
        Number of self-attention blocks.
    heads:
        Attention heads per block (must divide ``hidden``).
    dropout:
        Dropout rate on embeddings, attention weights and feed-forward outputs.
    learning_rate:
        Adam(W) learning rate (betas 0.9, 0.98 as the paper).
    batch_size:
        Sequences per training step.
    epochs:
        Most training epochs.
    patience:
        Stop after this many epochs without a better validation NDCG@10 (``None``: run
        every epoch and keep the last weights).
    n_negatives:
        ``None``: softmax over all items (the most accurate, and costly on a CPU: the
        logits of every position over every item). A number (default 2,048): sampled
        softmax against that many
        uniformly drawn items, drawn once per batch and shared by all its positions
        (a draw equal to a position's target is masked for that position). Sharing
        turns the negative scores into one matrix product, so thousands of negatives
        cost little, and with uniform draws no sampling-bias correction is needed.
    weight_decay:
        Decoupled weight decay (AdamW); 0 is plain Adam.
    device:
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
        On CUDA the training forward pass runs under bf16 autocast.
    random_state:
        Seed of initialisation, shuffling, dropout and negatives; on CPU a seed gives
        identical weights.

    Attributes
    ----------
    network_:
        The trained :class:`SASRecNetwork` (best validation epoch), in eval mode.
    popularity_:
        float64 ``[n_items]``, training interactions per item, for empty histories.
    losses_:
        Mean training loss of each epoch run.
    validation_ndcg_:
        Validation NDCG@10 after each epoch (empty when no user could be held out).
    best_epoch_:
        1-based epoch whose weights were kept.
    """

    name: ClassVar[str] = "sasrec"
    learned: ClassVar[tuple[str, ...]] = ("network_",)
    network_: SASRecNetwork | None = None
    popularity_: FloatArray | None = None
    losses_: list[float]
    validation_ndcg_: list[float]
    best_epoch_: int

    def __init__(
        self,
        *,
        max_length: int = 50,
        hidden: int = 64,
        blocks: int = 2,
        heads: int = 1,
        dropout: float = 0.5,
        learning_rate: float = 1e-3,
        batch_size: int = 128,
        epochs: int = 200,
        patience: int | None = 10,
        n_negatives: int | None = 2048,
        weight_decay: float = 0.0,
        device: str = "auto",
        random_state: int = 0,
    ) -> None:
        self.max_length = max_length
        self.hidden = hidden
        self.blocks = blocks
        self.heads = heads
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.n_negatives = n_negatives
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state

    # -- set-up -------------------------------------------------------------------------

    def _check_params(self) -> None:
        positive = {
            "max_length": self.max_length,
            "hidden": self.hidden,
            "blocks": self.blocks,
            "heads": self.heads,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
        }
        bad = {name: value for name, value in positive.items() if value < 1}
        if bad:
            raise ConfigurationError(f"sasrec parameters must be >= 1: {bad}")
        if self.hidden % self.heads:
            raise ConfigurationError(f"heads ({self.heads}) must divide hidden ({self.hidden})")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigurationError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.n_negatives is not None and self.n_negatives < 1:
            raise ConfigurationError(f"n_negatives must be >= 1 or None, got {self.n_negatives}")
        if self.patience is not None and self.patience < 1:
            raise ConfigurationError(f"patience must be >= 1 or None, got {self.patience}")

    def _torch_device(self) -> torch.device:
        import torch  # noqa: PLC0415  # only when needed: importing stays light

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def _new_network(self, n_items: int) -> SASRecNetwork:
        from shopsense.models.recommend._sasrec_network import SASRecNetwork  # noqa: PLC0415

        return SASRecNetwork(
            n_items,
            max_length=self.max_length,
            hidden=self.hidden,
            blocks=self.blocks,
            heads=self.heads,
            dropout=self.dropout,
        )

    def _padded(self, sequences: list[IntArray]) -> tuple[npt.NDArray[np.int64], IntArray]:
        """Tokens ``[len, max_length]`` (codes + 1, right-aligned, newest
        ``max_length`` items) and the kept lengths."""
        tokens = np.zeros((len(sequences), self.max_length), dtype=np.int64)
        lengths = np.zeros(len(sequences), dtype=np.int64)
        for row, sequence in enumerate(sequences):
            kept = sequence[-self.max_length :]
            lengths[row] = len(kept)
            if len(kept):
                tokens[row, -len(kept) :] = kept + 1
        return tokens, lengths

    # -- training -----------------------------------------------------------------------

    def fit(self, interactions: Interactions, *, validation: Holdout | None = None) -> Self:
        """Train on every position of each user's sequence and stop early on
        ``validation`` (e.g. the protocol's second-to-last items); without it, each
        user's last training item (users with at least three) is held out for that."""
        import torch  # noqa: PLC0415  # only when needed: importing stays light

        self._check_params()
        device = self._torch_device()
        n_items = interactions.n_items
        sequences = interactions.sequences()
        if validation is not None:
            check_histories(validation.histories, n_items)
            training = list(sequences)
            holdout = validation
        else:
            # Users with >= 3 items give a validation target and still a training pair.
            held = [len(sequence) >= 3 for sequence in sequences]
            training = [s[:-1] if h else s for s, h in zip(sequences, held, strict=True)]
            holdout = Holdout(
                histories=[s[:-1] for s, h in zip(sequences, held, strict=True) if h],
                truth=[s[-1:] for s, h in zip(sequences, held, strict=True) if h],
            )
        training = [sequence for sequence in training if len(sequence) >= 2]
        inputs, lengths = self._padded([s[:-1] for s in training])
        targets, _ = self._padded([s[1:] for s in training])
        targets -= 1  # back to item codes; padding becomes -1 (ignored)

        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.random_state)
            network = self._new_network(n_items).to(device)
            self.losses_ = []
            self.validation_ndcg_ = []
            self.best_epoch_ = 0
            if training:
                self._train(
                    network,
                    device=device,
                    inputs=inputs,
                    lengths=lengths,
                    targets=targets,
                    holdout=holdout,
                )
        network.eval()
        self.network_ = network
        self.popularity_ = np.bincount(interactions.item_codes, minlength=n_items).astype(
            np.float64
        )
        return self

    def _train(
        self,
        network: SASRecNetwork,
        *,
        device: torch.device,
        inputs: npt.NDArray[np.int64],
        lengths: IntArray,
        targets: npt.NDArray[np.int64],
        holdout: Holdout,
    ) -> None:
        import torch  # noqa: PLC0415  # only when needed: importing stays light

        rng = np.random.default_rng(self.random_state)
        generator = torch.Generator(device=device).manual_seed(self.random_state)
        optimizer = torch.optim.AdamW(
            network.parameters(),
            lr=self.learning_rate,
            betas=(0.9, 0.98),
            weight_decay=self.weight_decay,
        )
        autocast = device.type == "cuda" and torch.cuda.is_bf16_supported()
        all_inputs = torch.from_numpy(inputs).to(device)
        all_targets = torch.from_numpy(targets).to(device)
        best_ndcg, best_state, stale = -1.0, None, 0
        for epoch in range(1, self.epochs + 1):
            started = time.perf_counter()
            network.train()
            total, steps = 0.0, 0
            for rows_np in self._batches(lengths, rng):
                width = int(lengths[rows_np].max())
                rows = torch.from_numpy(rows_np).to(device)
                tokens = all_inputs[rows, -width:]
                batch_targets = all_targets[rows, -width:]
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                    hidden = network(tokens)
                    positions = hidden[batch_targets >= 0]
                    loss = self._loss(
                        network, positions, batch_targets[batch_targets >= 0], generator
                    )
                optimizer.zero_grad(set_to_none=True)
                torch.autograd.backward(loss)
                optimizer.step()
                total += float(loss.detach())
                steps += 1
            self.losses_.append(total / steps)
            message = f"sasrec epoch {epoch}: loss {self.losses_[-1]:.4f}"
            if holdout.truth and self.patience is not None:
                ndcg = self._validation_ndcg(network, holdout)
                self.validation_ndcg_.append(ndcg)
                message += f", validation NDCG@{VALIDATION_CUTOFF} {ndcg:.4f}"
                if ndcg > best_ndcg:
                    best_ndcg, stale, self.best_epoch_ = ndcg, 0, epoch
                    best_state = copy.deepcopy(network.state_dict())
                else:
                    stale += 1
            else:
                self.best_epoch_ = epoch
            logger.info("%s (%.1fs)", message, time.perf_counter() - started)
            if self.patience is not None and stale >= self.patience:
                break
        if best_state is not None:
            network.load_state_dict(best_state)

    def _batches(self, lengths: IntArray, rng: np.random.Generator) -> list[IntArray]:
        """One epoch's batches of row indices: rows sorted by length (random order
        among equal lengths), cut into ``batch_size`` chunks, chunks shuffled. Batches
        are cut to their longest sequence, so similar lengths save the work on padding
        (most shop histories are short; max_length only bounds the long ones)."""
        order = np.lexsort((rng.random(len(lengths)), lengths))
        chunks = [
            order[start : start + self.batch_size]
            for start in range(0, len(order), self.batch_size)
        ]
        return [chunks[k] for k in rng.permutation(len(chunks))]

    def _loss(
        self,
        network: SASRecNetwork,
        hidden: torch.Tensor,
        targets: torch.Tensor,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """Cross-entropy of the next item at ``hidden [P, d]``, targets ``[P]``."""
        import torch  # noqa: PLC0415  # only when needed: importing stays light

        if self.n_negatives is None:
            return torch.nn.functional.cross_entropy(network.item_scores(hidden).float(), targets)
        n_items = network.item_embedding.num_embeddings - 1
        negatives = torch.randint(
            n_items, (self.n_negatives,), generator=generator, device=targets.device
        )
        positive = (hidden * network.item_embedding(targets + 1)).sum(dim=1, keepdim=True)
        negative = hidden @ network.item_embedding(negatives + 1).T
        # A draw that is the position's own target is no negative.
        negative = negative.masked_fill(negatives[None, :] == targets[:, None], float("-inf"))
        logits = torch.cat([positive, negative], dim=1).float()
        return torch.nn.functional.cross_entropy(logits, torch.zeros_like(targets))

    def _validation_ndcg(self, network: SASRecNetwork, holdout: Holdout) -> float:
        """Mean NDCG@10 of ranking ``holdout.truth`` from its histories (history items
        excluded, as seq-loo does)."""
        import torch  # noqa: PLC0415  # only when needed: importing stays light

        network.eval()
        device = next(network.parameters()).device
        tokens_np, lengths = self._padded(holdout.histories)
        order = np.argsort(lengths, kind="stable")  # similar lengths share a batch width
        lists = np.full((len(order), VALIDATION_CUTOFF), -1, dtype=np.int64)
        with torch.no_grad():
            for start in range(0, len(order), SCORE_BATCH):
                rows = order[start : start + SCORE_BATCH]
                width = max(int(lengths[rows].max()), 1)
                tokens = torch.from_numpy(tokens_np[rows, -width:]).to(device)
                scores = network.item_scores(network(tokens)[:, -1]).float()
                # Token t is item t - 1: prepend a padding column so tokens index the scores.
                scores = torch.cat([torch.full_like(scores[:, :1], float("-inf")), scores], dim=1)
                scores.scatter_(1, tokens, float("-inf"))
                k = min(VALIDATION_CUTOFF, scores.shape[1])  # a tiny catalog has fewer
                top = torch.topk(scores, k, dim=1)
                codes = torch.where(torch.isfinite(top.values), top.indices - 1, -1)
                lists[rows, :k] = codes.cpu().numpy()
        hits = relevance(lists, holdout.truth)
        return float(ndcg(hits, truth_sizes(holdout.truth), VALIDATION_CUTOFF).mean())

    # -- serving ------------------------------------------------------------------------

    def score_histories(self, histories: list[IntArray]) -> FloatArray:
        """float64 ``[len(histories), n_items]``: next-item logits from each history's
        newest ``max_length`` items; empty histories get the item popularity."""
        import torch  # noqa: PLC0415  # only when needed: importing stays light

        check_fitted(self, "network_")
        assert self.network_ is not None and self.popularity_ is not None
        check_histories(histories, len(self.popularity_))
        device = next(self.network_.parameters()).device
        tokens_np, lengths = self._padded(histories)
        width = max(int(lengths.max(initial=0)), 1)
        tokens = torch.from_numpy(tokens_np[:, -width:]).to(device)
        with torch.no_grad():
            logits = self.network_.item_scores(self.network_(tokens)[:, -1])
        scores = logits.double().cpu().numpy()
        return cold_rows_to_popularity(scores, histories, self.popularity_)

    def item_embeddings(self) -> npt.NDArray[np.float32]:
        """float32 ``[n_items, hidden]``: the (input and output) item embeddings."""
        check_fitted(self, "network_")
        assert self.network_ is not None
        weights = self.network_.item_embedding.weight[1:].detach().float().cpu().numpy()
        return np.asarray(weights, dtype=np.float32)

    def similar_items(self, item_codes: IntArray, n: int) -> Recommendations:
        """Nearest items by cosine of the item embeddings, never the item itself."""
        check_fitted(self, "network_")
        assert self.popularity_ is not None
        embeddings = self.item_embeddings().astype(np.float64)
        norms = np.linalg.norm(embeddings, axis=1)
        unit = embeddings / np.where(norms > 0, norms, 1.0)[:, np.newaxis]

        def cosine_rows(codes: IntArray) -> FloatArray:
            rows: FloatArray = unit[codes] @ unit.T
            return rows

        return similar_by_rows(cosine_rows, item_codes, n, self.popularity_)

    # -- artifacts ----------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write ``weights.npz`` (the network's state dict as float32 arrays, plus the
        popularity) and ``manifest.json`` (params, training curve)."""
        import torch  # noqa: PLC0415  # only when needed: importing stays light

        check_fitted(self, "network_")
        assert self.network_ is not None and self.popularity_ is not None
        arrays: dict[str, npt.NDArray[Any]] = {
            f"network.{key}": value.detach().float().cpu().numpy()
            for key, value in self.network_.state_dict().items()
        }
        save_weights(directory, popularity=self.popularity_, **arrays)
        write_manifest(
            directory,
            self.name,
            model_params(self),
            torch=torch.__version__,
            n_items=len(self.popularity_),
            best_epoch=self.best_epoch_,
            losses=self.losses_,
            validation_ndcg=self.validation_ndcg_,
        )

    @classmethod
    def load(cls, directory: Path) -> Self:
        """Read a model that :meth:`save` wrote (onto ``device``, as the params say)."""
        import torch  # noqa: PLC0415  # only when needed: importing stays light

        manifest = read_manifest(directory, cls.name)
        model = cls(**manifest["params"])
        arrays = load_weights(directory)
        popularity = arrays.pop("popularity")
        network = model._new_network(len(popularity))
        state = {
            key.removeprefix("network."): torch.from_numpy(value) for key, value in arrays.items()
        }
        network.load_state_dict(state)
        network.to(model._torch_device()).eval()
        model.network_ = network
        model.popularity_ = popularity
        model.losses_ = list(manifest.get("losses", []))
        model.validation_ndcg_ = list(manifest.get("validation_ndcg", []))
        model.best_epoch_ = int(manifest.get("best_epoch", 0))
        return model
