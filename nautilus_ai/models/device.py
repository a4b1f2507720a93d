"""Which torch device a backend runs on: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""

from __future__ import annotations

import re

__all__ = ["DeviceError", "resolve_device"]

_CUDA = re.compile(r"^cuda(?::(\d+))?$")


class DeviceError(ValueError):
    """A device was asked for that does not exist here, or was spelled wrong."""


def resolve_device(device: str = "auto") -> str:
    """Turn a device request into a concrete torch device string.

    Parameters
    ----------
    device : str
        ``"auto"`` (CUDA device 0 when CUDA is available, else CPU), ``"cpu"``, ``"cuda"``
        (device 0) or ``"cuda:N"``.

    Returns
    -------
    str
        ``"cpu"`` or ``"cuda:N"``.

    Raises
    ------
    DeviceError
        Unknown spelling, CUDA asked for but not available, or ``N`` out of range; the message
        says which and what is available.
    """
    import torch  # heavy: only when a torch backend is being built

    request = device.strip().lower() if isinstance(device, str) else device
    if request == "cpu":
        return "cpu"
    if request == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    match = _CUDA.match(request) if isinstance(request, str) else None
    if match is None:
        raise DeviceError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', was {device!r}")
    if not torch.cuda.is_available():
        raise DeviceError(
            f"device {device!r} asked for CUDA, but CUDA is not available here (torch "
            f"{torch.__version__}, built with CUDA {torch.version.cuda}); use 'cpu' or 'auto'"
        )
    index = int(match.group(1) or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise DeviceError(f"device {device!r}: only {count} CUDA device(s) here (cuda:0..)")
    return f"cuda:{index}"
