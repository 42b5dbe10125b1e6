"""tinygrad_bn.nn.functional: the ops a CNN is made of, PyTorch's names and signatures.

Read in this order: conv.py (convolution as im2col + matrix products), conv_transpose.py (its adjoint),
batchnorm.py (the analytic backward), pooling.py, upsampling.py, activation.py, distance.py (norms, cosine
similarity, pairwise distances), loss.py, margin_losses.py (ranking, hinge, triplet, cosine embedding), ctc.py
(the CTC loss, composed from Tensor ops), normalization.py (layer, group, instance and RMS norm), embedding.py
(lookups and bags of them), grid_sample.py (affine grids and sampling an image at any points),
padding.py, pixel.py (pixel shuffle, unfold and fold). Each op's forward and backward
sit side by side and read like the math; the speed tricks they rely on are named primitives in tinygrad_bn/kernels/.
"""
from .activation import (dropout, dropout2d, elu, gelu, hardsigmoid, hardswish, hardtanh, leaky_relu, linear,
                         log_softmax, relu, relu6, sigmoid, silu, softmax, softplus, tanh)
from .activation import (celu, dropout1d, glu, hardshrink, logsigmoid, mish, prelu, selu, softmin, softshrink,
                         softsign, tanhshrink, threshold)
from .attention import multi_head_attention_forward, scaled_dot_product_attention
from .batchnorm import batch_norm, batch_norm_simple
from .conv import conv1d, conv2d, conv2d_simple
from .conv_transpose import conv_transpose2d, conv_transpose2d_simple
from .ctc import ctc_loss
from .distance import cosine_similarity, normalize, pairwise_distance
from .embedding import embedding, embedding_bag
from .grid_sample import affine_grid, grid_sample
from .loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, l1_loss,
                   mse_loss, nll_loss, one_hot, smooth_l1_loss)
from .loss import kl_div
from .loss import gaussian_nll_loss, poisson_nll_loss
from .margin_losses import (cosine_embedding_loss, hinge_embedding_loss, margin_ranking_loss, multi_margin_loss,
                            multilabel_soft_margin_loss, soft_margin_loss, triplet_margin_loss)
from .normalization import group_norm, instance_norm, layer_norm, rms_norm
from .padding import pad
from .pixel import channel_shuffle, fold, pixel_shuffle, pixel_unshuffle, unfold
from .pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, max_pool1d,
                      max_pool2d)
from .pooling import adaptive_max_pool1d, adaptive_max_pool2d
from .upsampling import interpolate, upsample, upsample_bilinear, upsample_nearest

__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "batch_norm_simple", "binary_cross_entropy_with_logits", "conv2d", "conv2d_simple",
           "cross_entropy", "dropout", "linear", "log_softmax", "max_pool2d", "mse_loss", "relu", "softmax",
           # activations, losses, normalization and embedding added for PyTorch code (see README, Coming from PyTorch)
           "binary_cross_entropy", "dropout2d", "elu", "embedding", "gelu", "group_norm", "hardsigmoid", "hardswish",
           "hardtanh", "huber_loss", "l1_loss", "layer_norm", "leaky_relu", "nll_loss", "one_hot", "pad", "relu6",
           "sigmoid", "silu", "smooth_l1_loss", "softplus", "tanh",
           "kl_div",
           # CTC loss (ctc.py), the forward algorithm composed from differentiable ops
           "ctc_loss",
           # transposed convolution and interpolation (groups, dilation and ceil_mode are arguments of the above)
           "conv_transpose2d", "conv_transpose2d_simple", "interpolate", "upsample", "upsample_bilinear",
           "upsample_nearest",
           # 1-D layers, padding modes, image ops (pad takes mode "reflect", "replicate" and "circular")
           "conv1d", "max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "pixel_shuffle", "pixel_unshuffle",
           "instance_norm", "unfold", "fold",
           # attention (attention.py), composed from matmul and softmax
           "scaled_dot_product_attention", "multi_head_attention_forward",
           # more activations (composed), RMS norm, channel dropout and shuffle, adaptive max pooling
           "prelu", "mish", "selu", "celu", "glu", "logsigmoid", "softsign", "softmin", "tanhshrink", "threshold",
           "hardshrink", "softshrink", "rms_norm", "dropout1d", "channel_shuffle", "adaptive_max_pool1d",
           "adaptive_max_pool2d",
           # distances (distance.py), the margin and embedding losses built on them (margin_losses.py), and the
           # likelihood losses of counts and of regression with a variance (loss.py)
           "normalize", "cosine_similarity", "pairwise_distance", "margin_ranking_loss", "hinge_embedding_loss",
           "soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss", "cosine_embedding_loss",
           "triplet_margin_loss", "poisson_nll_loss", "gaussian_nll_loss",
           # what PyTorch's text-classification and spatial-transformer tutorials use (embedding.py, grid_sample.py)
           "embedding_bag", "affine_grid", "grid_sample"]
