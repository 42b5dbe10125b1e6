"""Kernels: the fast versions of the few array primitives that convolution, batch norm and pooling are made of.

The math files (nn/functional/conv.py, batchnorm.py, pooling.py) read like the equations in docs/: they call
primitives such as `bn_grads(g, x_hat, scale)` or `im2col_matmul(w, x)`. Each primitive here has two versions side by
side: a plain one, a few NumPy/CuPy lines that say what is computed, and a fast one that computes the same numbers
with a trick, named and explained where it lives:

- layout.py    activations stored channel-major, so im2col copies long runs and per-channel rows are views
- parallel.py  independent chunks of work (images, channels) on every CPU core, BLAS single-threaded meanwhile
- conv.py      convolution as im2col + matrix product, a few images at a time so the columns stay in cache;
               the input gradient of a stride-1 convolution as a convolution again (no col2im scatter)
- rows.py      batch norm's per-channel sums and its elementwise steps, in place, on all cores, a few rows at a
               time so that each primitive's passes after the first read from cache (standardize: x read once;
               bn_grads: both sums and dx from one read of g); eval mode as one affine map per channel
- pooling.py   max pooling's backward, routing each window's gradient to its maximum
- cuda.py      fused CUDA kernels for batch norm's elementwise steps (CuPy)

The switch: set TINYGRAD_BN_KERNELS=plain, or run code inside `with tinygrad_bn.kernels.plain():`, and every
primitive runs its plain version. A student can then step through the plain code and check that the fast one
gives the same numbers (tests/test_kernels.py checks each pair; the whole suite also runs green in plain mode).
"""
from .switch import plain, use_plain
from .conv import col2im_matmul, im2col, im2col_matmul, matmul_im2col_t, output_hw
from .layout import channel_rows, from_channel_rows, is_channel_major, pad_hw, unpad_hw, zeros_in_layout
from .pooling import route_to_window_max, window_positions
from .rows import bn_grads, row_dots, scale_shift, standardize
