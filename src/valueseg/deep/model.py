"""The sequence network and its losses (PyTorch; imported only when the learner fits).

:class:`SequenceNet`: the step features and an embedding of each step's category, both
multiplied by the mask (a padded slot enters as zeros, whatever it holds), plus the mask
itself, run through a one-layer GRU over the real steps only (packed: a padded slot is
never a step of it, so neither what it holds nor how many there are reaches the output);
the GRU's state after the latest step is concatenated with the standardised static
features and mapped to the customer embedding (``hidden`` units, ReLU). A customer
without a step runs one all-zero step. Two heads read the embedding:

- churn: one logit, trained with the binary cross-entropy;
- spend: the zero-inflated lognormal (ZILN) of Wang, Liu & Miao (2019): a logit of
  P(spend > 0) and the ``mu``, ``sigma`` of the lognormal of a positive spend, trained
  with the ZILN negative log-likelihood (:func:`ziln_loss`); the expected spend is
  ``P(spend > 0) * exp(mu + sigma^2 / 2)`` (:func:`ziln_mean`).

References
----------
Wang, X., Liu, T. & Miao, J. (2019). A Deep Probabilistic Model for Customer Lifetime
Value Prediction. arXiv:1912.07753.

Cho, K. et al. (2014). Learning Phrase Representations using RNN Encoder-Decoder for
Statistical Machine Translation. EMNLP 2014 (the GRU).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

__all__ = ["CATEGORY_DIM", "SequenceNet", "ziln_loss", "ziln_mean"]

#: Size of a category's embedding.
CATEGORY_DIM = 8
#: The smallest ``sigma`` of the lognormal (as the paper's implementation: ``sqrt(eps)``).
_MIN_SIGMA = math.sqrt(1e-7)
#: ``mu + sigma^2 / 2`` is capped here before ``exp`` (spend is scaled to about 1).
_MAX_LOG_MEAN = 30.0


class SequenceNet(nn.Module):
    """GRU over the order steps + static features → embedding → churn and ZILN heads.

    Parameters
    ----------
    n_step : int
        Numeric features per step.
    n_categories : int
        Category ids, padding (0) and "other" (1) included.
    n_static : int
        Static features (after standardisation and missing-value indicators).
    hidden : int
        Units of the GRU and of the embedding.

    Examples
    --------
    >>> net = SequenceNet(n_step=10, n_categories=4, n_static=3, hidden=8)
    >>> churn, spend = net(torch.zeros(2, 5, 10), torch.zeros(2, 5, dtype=torch.long),
    ...                    torch.ones(2, 5, dtype=torch.bool), torch.zeros(2, 3))
    >>> tuple(churn.shape), tuple(spend.shape)
    ((2,), (2, 3))
    """

    def __init__(self, *, n_step: int, n_categories: int, n_static: int, hidden: int) -> None:
        super().__init__()
        self.category = nn.Embedding(n_categories, CATEGORY_DIM, padding_idx=0)
        self.gru = nn.GRU(n_step + CATEGORY_DIM + 1, hidden, batch_first=True)
        self.fuse = nn.Sequential(nn.Linear(hidden + n_static, hidden), nn.ReLU())
        self.churn_head = nn.Linear(hidden, 1)
        self.spend_head = nn.Linear(hidden, 3)

    def embed(self, steps: Tensor, category: Tensor, mask: Tensor, static: Tensor) -> Tensor:
        """The customer embedding, shape ``(n, hidden)``."""
        m = mask.unsqueeze(-1).to(steps.dtype)
        x = torch.cat([steps * m, self.category(category) * m, m], dim=-1)
        packed = pack_padded_sequence(
            _left_to_right(x, mask), _lengths(mask), batch_first=True, enforce_sorted=False
        )
        _, state = self.gru(packed)
        return self.fuse(torch.cat([state[-1], static], dim=1))

    def forward(
        self, steps: Tensor, category: Tensor, mask: Tensor, static: Tensor
    ) -> tuple[Tensor, Tensor]:
        """(churn logit of shape ``(n,)``, ZILN outputs of shape ``(n, 3)``)."""
        z = self.embed(steps, category, mask, static)
        return self.churn_head(z).squeeze(-1), self.spend_head(z)


def _lengths(mask: Tensor) -> Tensor:
    """Real steps per row (at least 1: an empty row runs one zero step), on the CPU."""
    return mask.sum(dim=1).clamp(min=1).cpu()


def _left_to_right(x: Tensor, mask: Tensor) -> Tensor:
    """Left-padded rows rotated so their real steps come first, in time order."""
    length = mask.shape[1]
    shift = (length - mask.sum(dim=1)).clamp(max=length - 1)
    index = (torch.arange(length, device=x.device)[None, :] + shift[:, None]) % length
    return x.gather(1, index[..., None].expand(-1, -1, x.shape[2]))


def _sigma(out: Tensor) -> Tensor:
    return torch.clamp(F.softplus(out[:, 2]), min=_MIN_SIGMA)


def ziln_loss(out: Tensor, spend: Tensor) -> Tensor:
    """Mean ZILN negative log-likelihood of ``spend`` (≥ 0) under ``out`` (logit, mu, sigma).

    The cross-entropy of "spend > 0" plus, for a positive spend, minus the lognormal
    log-density (Wang, Liu & Miao 2019).

    Examples
    --------
    >>> out = torch.tensor([[0.0, 0.0, 0.5413]])  # P = 1/2, mu 0, sigma = softplus = 1
    >>> round(float(ziln_loss(out, torch.tensor([1.0]))), 4)  # log 2 + log sqrt(2 pi)
    1.6121
    """
    positive = (spend > 0).to(out.dtype)
    classification = F.binary_cross_entropy_with_logits(out[:, 0], positive, reduction="none")
    sigma = _sigma(out)
    log_y = torch.log(torch.where(spend > 0, spend, torch.ones_like(spend)))
    log_density = (
        -log_y
        - torch.log(sigma)
        - 0.5 * math.log(2 * math.pi)
        - (log_y - out[:, 1]) ** 2 / (2 * sigma**2)
    )
    return (classification - positive * log_density).mean()


def ziln_mean(out: Tensor) -> Tensor:
    """The expected spend ``P(spend > 0) * exp(mu + sigma^2 / 2)`` per row.

    Examples
    --------
    >>> out = torch.tensor([[0.0, 0.0, 0.5413]])
    >>> round(float(ziln_mean(out)[0]), 3)  # 1/2 * exp(1/2)
    0.824
    """
    sigma = _sigma(out)
    log_mean = torch.clamp(out[:, 1] + sigma**2 / 2, max=_MAX_LOG_MEAN)
    return torch.sigmoid(out[:, 0]) * torch.exp(log_mean)
