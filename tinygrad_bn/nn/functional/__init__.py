"""tinygrad_bn.nn.functional: the ops a CNN is made of, PyTorch's names and signatures.

Read in this order: layout.py (the memory-layout trick), conv.py (im2col), batchnorm.py (the analytic backward),
pooling.py, activation.py, loss.py.
"""
from .activation import dropout, linear, log_softmax, relu, softmax
from .batchnorm import batch_norm
from .conv import conv2d
from .loss import binary_cross_entropy_with_logits, cross_entropy, mse_loss
from .pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d

__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "binary_cross_entropy_with_logits", "conv2d",
           "cross_entropy", "dropout", "linear", "log_softmax", "max_pool2d", "mse_loss", "relu", "softmax"]
