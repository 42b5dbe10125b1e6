"""`torch.jit`, as an eager pass-through: tinygrad_bn compiles nothing, so scripting and tracing return the function
or module unchanged, and it runs eagerly as before. The decorators (`@torch.jit.unused`, `ignore`, `export`) return
what they decorate; `is_scripting()` and `is_tracing()` are False, as they are for eager PyTorch code."""
from typing import Final


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    return obj


def trace(func, example_inputs=None, *args, **kwargs):
    return func


def unused(fn):
    return fn


def export(fn):
    return fn


def ignore(drop=False, **kwargs):
    """`@ignore` or `@ignore(drop=True)`: the function is returned as it is."""
    if callable(drop):
        return drop
    return lambda fn: fn


def is_scripting():
    return False


def is_tracing():
    return False


def annotate(the_type, the_value):
    return the_value


__all__ = ["Final", "annotate", "export", "ignore", "is_scripting", "is_tracing", "script", "trace", "unused"]
