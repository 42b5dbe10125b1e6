"""Moving pixels between space and channels, composed from Tensor ops (no backward of their own).

pixel_shuffle(x, r): (*, C*r*r, H, W) -> (*, C, H*r, W*r). The r*r channels of each output channel become an r x r
block of pixels (sub-pixel convolution, ESPCN's upsampling):

    out[c, h*r + i, w*r + j] = x[c*r*r + i*r + j, h, w]

a reshape and a permute; pixel_unshuffle is its inverse. channel_shuffle(x, g) is the same idea on channels alone
(ShuffleNet): the C channels, seen as g groups of C/g, are read out group-interleaved.

unfold(x, kernel_size): (N, C, H, W) -> (N, C*KH*KW, L), every sliding (KH, KW) block of the padded input as one
column, L blocks (im2col, tinygrad_bn/kernels/conv.py, as a Tensor op):

    out[n, (c, i, j), (oh, ow)] = x_pad[n, c, oh*SH + i*DH, ow*SW + j*DW]

built as pooling is (pooling.py): tap (i, j) of every block is one strided slice of the padded input.
fold is its adjoint (col2im): each column's values are added back onto the pixels they were copied from, summing
where blocks overlap, and the padding is cut off. So fold(unfold(x)) is x times how many blocks saw each pixel.
"""
from ...arguments import pair, positive_int
from ...tensors import stack, zeros
from .padding import pad


def pixel_shuffle(input, upscale_factor):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r), r = upscale_factor."""
    r = positive_int("pixel_shuffle: upscale_factor", upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    *batch, C, H, W = input.shape
    if C % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={C} is not divisible by {r * r}")
    b = len(batch)
    blocks = input.reshape(*batch, C // (r * r), r, r, H, W)                 # (*, C, i, j, H, W)
    rows_then_columns = blocks.permute(*range(b), b, b + 3, b + 1, b + 4, b + 2)   # (*, C, H, i, W, j)
    return rows_then_columns.reshape(*batch, C // (r * r), H * r, W * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), r = downscale_factor: the inverse of pixel_shuffle."""
    r = positive_int("pixel_unshuffle: downscale_factor", downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    *batch, C, H, W = input.shape
    if H % r or W % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by downscale_factor, but "
                           f"input.size(-2)={H} and input.size(-1)={W} are not both divisible by {r}")
    b = len(batch)
    pixels = input.reshape(*batch, C, H // r, r, W // r, r)                   # (*, C, H, i, W, j)
    channels_first = pixels.permute(*range(b), b, b + 2, b + 4, b + 1, b + 3)   # (*, C, i, j, H, W)
    return channels_first.reshape(*batch, C * r * r, H // r, W // r)


def channel_shuffle(input, groups):
    """(N, C, *) -> (N, C, *) with channel k*g + i of the output taken from channel i*(C/g) + k of the input
    (g = groups): a (g, C/g) -> (C/g, g) transpose of the channel index, so that the next grouped convolution sees
    channels of every group."""
    g = positive_int("channel_shuffle: groups", groups)
    if input.ndim <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input of shape {input.shape}")
    N, C, *positions = input.shape
    if C % g:
        raise RuntimeError(f"channel_shuffle: number of channels must be divisible by groups. Got {C} channels and "
                           f"{g} groups.")
    grouped = input.reshape(N, g, C // g, *positions)
    return grouped.transpose(1, 2).reshape(input.shape)


def _block_args(name, kernel_size, dilation, padding, stride):
    return (pair(kernel_size, f"{name}: kernel_size"), pair(dilation, f"{name}: dilation"),
            pair(padding, f"{name}: padding"), pair(stride, f"{name}: stride"))


def _blocks_along(size, kernel, dilation, padding, stride):
    """How many blocks fit along one axis: (size + 2P - D*(K-1) - 1) // S + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _tap(kernel, dilation, stride, blocks, i, j):
    """The index of tap (i, j) of all blocks in the padded image: rows i*DH + oh*SH, columns j*DW + ow*SW."""
    (DH, DW), (SH, SW), (OH, OW) = dilation, stride, blocks
    return (slice(None), slice(None), slice(i * DH, i * DH + SH * (OH - 1) + 1, SH),
            slice(j * DW, j * DW + SW * (OW - 1) + 1, SW))


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C, H, W) -> (N, C*KH*KW, L): each sliding block of the (zero-)padded input as a column (see the top)."""
    if input.ndim not in (3, 4):
        raise RuntimeError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D)")
    if input.ndim == 3:
        return unfold(input.unsqueeze(0), kernel_size, dilation, padding, stride).squeeze(0)
    kernel, dilation, padding, stride = _block_args("unfold", kernel_size, dilation, padding, stride)
    (N, C, H, W), (PH, PW) = input.shape, padding
    blocks = tuple(_blocks_along(*args) for args in zip((H, W), kernel, dilation, padding, stride))
    if min(blocks) < 1:
        raise RuntimeError(f"unfold: the padded input {H + 2 * PH}x{W + 2 * PW} (input shape {input.shape}, padding "
                           f"{padding}) is smaller than the kernel {kernel} with dilation {dilation}")
    x_pad = pad(input, (PW, PW, PH, PH))
    taps = [x_pad[_tap(kernel, dilation, stride, blocks, i, j)] for i in range(kernel[0]) for j in range(kernel[1])]
    return stack(taps, dim=2).reshape(N, C * kernel[0] * kernel[1], blocks[0] * blocks[1])   # (N, C, KH*KW, OH, OW)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C*KH*KW, L) -> (N, C, H, W), (H, W) = output_size: the adjoint of unfold, summing overlapping blocks."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and "
                           f"non-zero dimensions for input, but got: {list(input.shape)}")
    if input.ndim == 2:
        return fold(input.unsqueeze(0), output_size, kernel_size, dilation, padding, stride).squeeze(0)
    (H, W) = pair(output_size, "fold: output_size")
    kernel, dilation, padding, stride = _block_args("fold", kernel_size, dilation, padding, stride)
    (N, CKK, L), (KH, KW), (PH, PW) = input.shape, kernel, padding
    if CKK % (KH * KW):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           f"got input.size(1)={CKK} and kernel_size={kernel}")
    blocks = tuple(_blocks_along(*args) for args in zip((H, W), kernel, dilation, padding, stride))
    if min(blocks) < 1 or blocks[0] * blocks[1] != L:
        raise RuntimeError(f"Given output_size={(H, W)}, kernel_size={kernel}, dilation={dilation}, "
                           f"padding={padding}, stride={stride}, expected size of input's dimension 2 to match the "
                           f"calculated number of sliding blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, "
                           f"but got input.size(2)={L}.")
    columns = input.reshape(N, CKK // (KH * KW), KH * KW, *blocks)                # (N, C, KH*KW, OH, OW)
    out = zeros((N, CKK // (KH * KW), H + 2 * PH, W + 2 * PW), dtype=input.dtype, device=input.device)
    for i in range(KH):
        for j in range(KW):
            tap = _tap(kernel, dilation, stride, blocks, i, j)
            out[tap] = out[tap] + columns[:, :, i * KW + j]       # add tap (i, j) of every block back where it came
    return out[:, :, PH:PH + H, PW:PW + W]
