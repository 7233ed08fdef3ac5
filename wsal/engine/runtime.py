"""Devices, precision, seeding and distributed setup: the only place that knows about them.

Lightning Fabric handles device placement, mixed precision and DDP (launched with
``torchrun``); the training loops stay ours. On CPU the default is a single process in
float32 (``precision=bf16`` asks for bf16 autocast on CPU too); on a GPU, bf16 autocast when
supported.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = [
    "seed_everything",
    "shutdown_distributed",
    "resolve_device",
    "resolve_precision",
    "is_global_zero",
    "make_fabric",
    "rng_state",
    "set_rng_state",
]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) from one integer."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(spec: str = "auto") -> str:
    """``auto`` -> ``cuda`` when available else ``cpu``; other values pass through."""
    if spec == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda") and not torch.cuda.is_available():
        from wsal.errors import ConfigError

        raise ConfigError(f"device '{spec}' requested but CUDA is not available")
    return spec


def resolve_precision(spec: str, device: str) -> str:
    """Fabric precision string of ``spec`` (``auto``, ``32``, ``bf16``, ``16``) on ``device``.

    GPU: ``auto`` -> bf16 autocast if supported, else fp16. CPU: float32, except an explicit
    ``bf16``, which gives bf16 autocast (CPUs run it, often slower than float32; it lets the
    AMP path be exercised without a GPU). fp16 autocast needs a GPU; on CPU it falls back to
    float32.
    """
    if not device.startswith("cuda"):
        return "bf16-mixed" if spec == "bf16" else "32-true"
    if spec == "auto":
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return {"32": "32-true", "bf16": "bf16-mixed", "16": "16-mixed"}[spec]


def is_global_zero() -> bool:
    """True in a single process and on rank 0 of a distributed (``torchrun``) job.

    Why: work that follows training (prediction, evaluation, writing results) runs once, on
    rank 0, after the training function has returned and its Fabric is gone.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


def make_fabric(device: str = "auto", precision: str = "auto"):
    """A launched :class:`lightning.fabric.Fabric` for this process.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) it uses DDP over all processes (gloo on CPU,
    NCCL on GPU); otherwise a single device.
    """
    from lightning.fabric import Fabric

    dev = resolve_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    accelerator = "cuda" if dev.startswith("cuda") else "cpu"
    devices: int | list[int] = 1
    if accelerator == "cuda" and ":" in dev and world == 1:
        devices = [int(dev.split(":")[1])]
    strategy = "ddp" if world > 1 else "auto"
    if world > 1:
        devices = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    num_nodes = max(1, world // devices) if isinstance(devices, int) and world > 1 else 1
    fabric_precision = resolve_precision(precision, dev)
    if accelerator == "cpu" and fabric_precision == "bf16-mixed":
        # oneDNN's bf16 Conv3d weight gradient on CPU (torch 2.13) differs between identical
        # runs and is now and then non-finite; PyTorch's own CPU kernels are deterministic.
        # Only runs that ask for bf16 on CPU are affected (the default there is float32).
        torch.backends.mkldnn.enabled = False
    fabric = Fabric(
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        precision=fabric_precision,
    )
    fabric.launch()
    return fabric


def rng_state() -> dict:
    """Torch, NumPy-global and Python RNG states in a ``weights_only``-loadable form."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": [list(random.getstate()[1]), random.getstate()[0], random.getstate()[2]],
    }


def set_rng_state(state: dict) -> None:
    """Restore states saved by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np_state = state["numpy"]
    np.random.set_state((np_state[0], np_state[1].numpy().astype(np.uint32), *np_state[2:]))
    py = state["python"]
    random.setstate((py[1], tuple(py[0]), py[2]))


def shutdown_distributed() -> None:
    """Destroy the default process group, if one exists, before the process exits.

    Lightning Fabric leaves the gloo/NCCL group alive after training; when the interpreter
    then exits with the group's worker threads still running, a rank can abort now and then
    ("terminate called without an active exception"). The CLI calls this on every exit.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
