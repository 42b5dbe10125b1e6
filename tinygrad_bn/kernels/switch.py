"""The switch between each primitive's plain and fast version (kernels/__init__.py explains the pairs).

Set TINYGRAD_BN_KERNELS=plain, or run code inside `with tinygrad_bn.kernels.plain():`, and every primitive runs its
plain version; `use_plain()` is what each primitive asks.
"""
import contextlib
import os
import threading

_state = threading.local()


def _plain_from_environment():
    value = os.environ.get("TINYGRAD_BN_KERNELS", "fast").strip().lower() or "fast"
    if value not in ("fast", "plain"):
        raise ValueError(f"TINYGRAD_BN_KERNELS={value!r}: expected 'fast' or 'plain'")
    return value == "plain"


_PLAIN_BY_DEFAULT = _plain_from_environment()


def use_plain():
    """True when the primitives should run their plain versions (TINYGRAD_BN_KERNELS=plain or inside plain())."""
    return getattr(_state, "plain", _PLAIN_BY_DEFAULT)


@contextlib.contextmanager
def plain(enabled=True):
    """Inside `with plain():` every primitive runs its plain NumPy/CuPy version (for reading, stepping, checking)."""
    previous = use_plain()
    _state.plain = enabled
    try:
        yield
    finally:
        _state.plain = previous
