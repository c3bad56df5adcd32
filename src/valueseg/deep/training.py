"""The training loop of :class:`valueseg.deep.SequenceLearner` (PyTorch).

Early stopping on a time-ordered split: the rows of the latest cutoff validate, the
earlier ones train (with one cutoff only, a seeded fifth of the rows validates). Every
random draw (initial weights, batch order, that fifth) comes from the seed; the global
random generators are left as they were.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from valueseg.deep.model import SequenceNet, ziln_loss

if TYPE_CHECKING:
    from valueseg.deep.learner import SequenceLearner

__all__ = ["train_network", "validation_split"]

_INPUTS = ("steps", "category", "mask", "static")
#: A validation loss must fall by this much to count as better.
_MIN_DELTA = 1e-4
_VALID_SHARE = 0.2


def validation_split(at: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows): the latest cutoff's rows validate.

    Examples
    --------
    >>> at = np.array(["2024-01-01", "2024-04-01", "2024-04-01"], dtype="datetime64[us]")
    >>> [part.tolist() for part in validation_split(at, 0)]
    [[0], [1, 2]]
    """
    n = len(at)
    latest = at == at.max() if n else np.zeros(0, bool)
    if n and not latest.all():
        return np.flatnonzero(~latest), np.flatnonzero(latest)
    if n < 10:
        return np.arange(n), np.arange(0)
    rng = np.random.default_rng(seed)
    valid = np.sort(rng.choice(n, size=max(1, int(n * _VALID_SHARE)), replace=False))
    return np.setdiff1d(np.arange(n), valid), valid


def train_network(
    model: SequenceLearner, tensors: dict[str, Tensor], at: np.ndarray, seed: int
) -> tuple[SequenceNet, int, list[float]]:
    """(the trained network, the best epoch, every epoch's validation loss)."""
    train, valid = validation_split(at, seed)
    net = _new_network(model, tensors, train, seed)
    if len(valid) == 0:
        _run_epochs(net, model, tensors, train, model.epochs, seed)
        return net, model.epochs, []
    best_epoch, history = _early_stopped(net, model, tensors, (train, valid), seed)
    if model.refit:
        every = np.arange(len(at))
        net = _new_network(model, tensors, every, seed)
        _run_epochs(net, model, tensors, every, best_epoch, seed)
    return net, best_epoch, history


def _new_network(
    model: SequenceLearner, tensors: dict[str, Tensor], rows: np.ndarray, seed: int
) -> SequenceNet:
    """A network with seeded weights; head biases start at the training rows' base rates."""
    device = tensors["steps"].device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SequenceNet(
            n_step=int(tensors["steps"].shape[2]),
            n_categories=len(model.categories_) + 2,
            n_static=int(tensors["static"].shape[1]),
            hidden=model.hidden,
        )
    index = torch.from_numpy(rows).to(device)
    with torch.no_grad():
        if "churn" in tensors:
            net.churn_head.bias.fill_(_logit(float(tensors["churn"][index].mean())))
        if "spend" in tensors:
            net.spend_head.bias.copy_(_ziln_start(tensors["spend"][index]))
    return net.to(device)


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def _ziln_start(spend: Tensor) -> Tensor:
    """(logit of the share of buyers, mean and softplus⁻¹ of the sd of log spend)."""
    positive = spend[spend > 0]
    share = _logit(float((spend > 0).float().mean())) if len(spend) else 0.0
    if len(positive) < 2:
        return torch.tensor([share, 0.0, 0.5413])
    logs = torch.log(positive)
    sd = max(float(logs.std()), 0.05)
    return torch.tensor([share, float(logs.mean()), math.log(math.expm1(sd))])


def _loss(net: SequenceNet, tensors: dict[str, Tensor], index: Tensor) -> Tensor:
    churn, spend = net(*(tensors[k][index] for k in _INPUTS))
    loss = churn.new_zeros(())
    if "churn" in tensors:
        loss = loss + F.binary_cross_entropy_with_logits(churn, tensors["churn"][index])
    if "spend" in tensors:
        loss = loss + ziln_loss(spend, tensors["spend"][index])
    return loss


def _run_epochs(
    net: SequenceNet,
    model: SequenceLearner,
    tensors: dict[str, Tensor],
    rows: np.ndarray,
    epochs: int,
    seed: int,
    on_epoch: Any = None,
) -> None:
    """``epochs`` passes over ``rows`` in a seeded order; ``on_epoch(epoch)`` after each
    (a true return value stops)."""
    device = tensors["steps"].device
    order = torch.Generator().manual_seed(seed + 1)
    rows_t = torch.from_numpy(rows)
    optimizer = torch.optim.Adam(net.parameters(), lr=model.learning_rate)
    for epoch in range(1, epochs + 1):
        net.train()
        shuffled = rows_t[torch.randperm(len(rows_t), generator=order)].to(device)
        for batch in torch.split(shuffled, model.batch_size):
            optimizer.zero_grad()
            _loss(net, tensors, batch).backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
        if on_epoch is not None and on_epoch(epoch):
            break
    net.eval()


def _early_stopped(
    net: SequenceNet,
    model: SequenceLearner,
    tensors: dict[str, Tensor],
    split: tuple[np.ndarray, np.ndarray],
    seed: int,
) -> tuple[int, list[float]]:
    """Train on ``split[0]``, keep the weights of the best validation loss on ``split[1]``."""
    train, valid = split
    valid_t = torch.from_numpy(valid).to(tensors["steps"].device)
    history: list[float] = []
    best: dict[str, Any] = {"loss": math.inf, "epoch": 0, "state": None}

    def on_epoch(epoch: int) -> bool:
        net.eval()
        with torch.no_grad():
            parts = [float(_loss(net, tensors, b)) * len(b) for b in torch.split(valid_t, 4096)]
        loss = sum(parts) / len(valid)
        history.append(loss)
        if loss < best["loss"] - _MIN_DELTA:
            state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            best.update(loss=loss, epoch=epoch, state=state)
        return epoch - int(best["epoch"]) > model.patience

    _run_epochs(net, model, tensors, train, model.epochs, seed, on_epoch)
    if best["state"] is not None:
        net.load_state_dict(best["state"])
    return max(int(best["epoch"]), 1), history
