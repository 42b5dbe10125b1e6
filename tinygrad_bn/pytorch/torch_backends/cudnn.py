"""`torch.backends.cudnn`'s flags, accepted and ignored: tinygrad_bn's convolutions do not use cuDNN."""
enabled = True
benchmark = False       # PyTorch: autotune convolution algorithms. Here: no effect.
deterministic = False   # PyTorch: pick deterministic algorithms. Here every op is deterministic already.
allow_tf32 = True


def is_available():
    return False
