"""PyTorch behind the ``deep`` extra: the import, the device, and a deterministic scope."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from valueseg.errors import InputError
from valueseg.predict.learners import SEQUENCE_NEEDS_TORCH

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")


def require_torch() -> Any:
    """The ``torch`` module, or the one-line :class:`InputError` naming the extra."""
    try:
        import torch
    except ImportError as exc:
        raise InputError(SEQUENCE_NEEDS_TORCH) from exc
    return torch


def resolve_device(device: str) -> torch.device:
    """``auto``: CUDA when a GPU is visible, else the CPU; ``cuda`` refused without one."""
    torch = require_torch()
    if device not in DEVICES:
        raise InputError(
            f"The 'device' parameter of SequenceLearner must be one of {', '.join(DEVICES)}. "
            f"Got {device!r}."
        )
    cuda = bool(torch.cuda.is_available())
    if device == "cuda" and not cuda:
        raise InputError(
            "SequenceLearner(device='cuda') found no CUDA GPU (torch.cuda.is_available() is "
            "False). Pass device='auto' or 'cpu'."
        )
    name = "cuda" if device == "cuda" or (device == "auto" and cuda) else "cpu"
    return torch.device(name)


@contextlib.contextmanager
def deterministic(device: torch.device, threads: int) -> Iterator[None]:
    """Fixed CPU threads and deterministic kernels inside; the process's settings after.

    On the CPU, ``torch.use_deterministic_algorithms(True)``; on CUDA, cuDNN's
    deterministic mode (the cuBLAS workspace setting the former needs is the process's to
    make), so results agree with the CPU's within floating-point tolerance.
    """
    torch = require_torch()
    old_threads = torch.get_num_threads()
    old_algorithms = torch.are_deterministic_algorithms_enabled()
    old_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.set_num_threads(threads)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    else:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_algorithms)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old_cudnn
