"""Every fast kernel against its plain version (tinygrad_bn/kernels/): same numbers, whatever the layout or split.

The plain versions are the few lines of NumPy/CuPy in each primitive's docstring; `with kernels.plain():` runs them.
Inputs come both NCHW-contiguous and channel-major (the layout conv2d hands out), in float64 so that the only
difference allowed is the order of floating-point additions.
"""
import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from tinygrad_bn import kernels
from tinygrad_bn.backend import array_module, to_numpy
from conftest import assert_close

RTOL, ATOL = 1e-12, 1e-12


def channel_major_copy(x):
    xp = array_module("cuda") if type(x).__module__.startswith("cupy") else np
    return xp.ascontiguousarray(x.swapaxes(0, 1)).swapaxes(0, 1)


def on_device(array, device):
    return tg.Tensor(array, dtype=array.dtype, device=device).array


def both_versions(primitive, *args):
    """(fast result, plain result) of one primitive on the same arguments."""
    with kernels.plain(False):
        fast = primitive(*args)
    with kernels.plain():
        plain = primitive(*args)
    return fast, plain


def assert_same(fast, plain, what):
    fast, plain = (fast, plain) if isinstance(fast, tuple) else ((fast,), (plain,))
    for k, (a, b) in enumerate(zip(fast, plain)):
        assert_close(to_numpy(a), to_numpy(b), rtol=RTOL, atol=ATOL, what=f"{what} output {k}")


# --------------------------------------------------------------------------------------- batch norm's row kernels
@pytest.mark.parametrize("C, m", [(1, 2), (3, 50), (16, 1000), (7, 33)])
def test_row_kernels_agree(C, m, device):
    rng = np.random.default_rng(C * m)
    rows = on_device(rng.standard_normal((C, m)) * 3 + 1, device)
    g = on_device(rng.standard_normal((C, m)), device)
    inv_std, gamma, beta = (on_device(rng.standard_normal(C), device) for _ in range(3))
    assert_same(*both_versions(kernels.standardize, rows, 1e-5), "standardize")
    assert_same(*both_versions(kernels.scale_shift, rows, gamma, beta), "scale_shift")
    assert_same(*both_versions(kernels.row_dots, g, rows), "row_dots")
    assert_same(*both_versions(kernels.bn_grads, g, rows, gamma * inv_std), "bn_grads")


def test_standardize_is_the_mean_biased_variance_and_x_hat():
    rows = np.random.default_rng(0).standard_normal((4, 30)) * 2 + 1
    for plain in (False, True):
        with kernels.plain(plain):
            mean, var, inv_std, x_hat = kernels.standardize(rows, 0.5)
        assert_close(mean, rows.mean(axis=1), rtol=1e-12, what="mean")
        assert_close(var, rows.var(axis=1), rtol=1e-12, what="biased variance")
        assert_close(inv_std, 1 / np.sqrt(rows.var(axis=1) + 0.5), rtol=1e-12, what="inv_std")
        expected = (rows - rows.mean(axis=1, keepdims=True)) / np.sqrt(rows.var(axis=1, keepdims=True) + 0.5)
        assert_close(x_hat, expected, rtol=1e-12, atol=1e-12, what="x_hat")


def test_bn_grads_are_the_sums_and_the_input_gradient():
    rng = np.random.default_rng(1)
    g, x_hat, scale = rng.standard_normal((3, 40)), rng.standard_normal((3, 40)), rng.standard_normal(3)
    for plain in (False, True):
        with kernels.plain(plain):
            dx, dgamma, dbeta = kernels.bn_grads(g, x_hat, scale)
        assert_close(dbeta, g.sum(axis=1), rtol=1e-12, what="dbeta")
        assert_close(dgamma, (g * x_hat).sum(axis=1), rtol=1e-12, what="dgamma")
        expected = scale[:, None] * (g - g.mean(axis=1, keepdims=True) - x_hat * (g * x_hat).mean(axis=1)[:, None])
        assert_close(dx, expected, rtol=1e-12, atol=1e-12, what="dx")


# ------------------------------------------------------------------------------------------------- conv kernels
CONV_CASES = [  # (N, C, H, W) of the padded input, OC, kernel, stride, padding (for the input gradient)
    ((2, 3, 7, 7), 4, (3, 3), (1, 1), (1, 1)),
    ((5, 2, 8, 6), 3, (3, 2), (2, 1), (1, 0)),
    ((3, 4, 5, 5), 2, (1, 1), (1, 1), (0, 0)),
    ((9, 1, 12, 12), 2, (5, 5), (3, 3), (2, 1)),
    ((3, 2, 9, 8), 3, (3, 3), (1, 1), (0, 2)),
    ((2, 3, 8, 7), 2, (5, 3), (1, 1), (3, 2)),
]
FORMULATIONS = ["as chosen", "input-grad-by-col2im", "input-grad-as-convolution"]


def choose_formulation(monkeypatch, name):
    """Make col2im_matmul take one formulation whatever the shape (or leave its choice as it is)."""
    if name != "as chosen":
        as_convolution = name == "input-grad-as-convolution"
        monkeypatch.setattr(kernels.conv, "input_grad_is_a_convolution",
                            lambda kernel, stride, *rest: as_convolution and tuple(stride) == (1, 1))


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("layout", ["nchw", "channel-major"])
@pytest.mark.parametrize("x_shape, OC, kernel, stride, padding", CONV_CASES)
def test_conv_kernels_agree(x_shape, OC, kernel, stride, padding, layout, formulation, device, monkeypatch):
    monkeypatch.setattr(kernels.conv, "CHUNK_COLUMNS", 40)  # several chunks even for these small batches
    choose_formulation(monkeypatch, formulation)
    rng = np.random.default_rng(sum(x_shape))
    x = rng.standard_normal(x_shape)
    x = on_device(channel_major_copy(x) if layout == "channel-major" else x, device)
    w = on_device(rng.standard_normal((OC, x_shape[1] * kernel[0] * kernel[1])), device)
    OH, OW = kernels.output_hw(x_shape, kernel, stride)
    g = on_device(rng.standard_normal((OC, x_shape[0] * OH * OW)), device)
    assert_same(*both_versions(kernels.im2col_matmul, w, x, kernel, stride), "im2col_matmul")
    assert_same(*both_versions(kernels.matmul_im2col_t, g, x, kernel, stride), "matmul_im2col_t")
    fast, plain = both_versions(kernels.col2im_matmul, w, g, x_shape, kernel, stride, padding)
    assert fast.shape == (x_shape[0], x_shape[1], x_shape[2] - 2 * padding[0], x_shape[3] - 2 * padding[1])
    assert_same(fast, plain, "col2im_matmul")


def test_input_grad_goes_as_a_convolution_where_that_pays():
    """The choice measured on the reference CNN: stride 1 and no more output than input channels."""
    choose = kernels.conv.input_grad_is_a_convolution
    assert choose((3, 3), (1, 1), (1, 1), 32, 32) and choose((3, 3), (1, 1), (1, 1), 64, 128)
    assert not choose((3, 3), (1, 1), (1, 1), 64, 32)      # twice the output channels: col2im's product is smaller
    assert not choose((3, 3), (2, 2), (1, 1), 32, 32)      # stride 2: the gradient is no plain convolution
    assert not choose((3, 3), (1, 1), (3, 1), 32, 32)      # padding as large as the kernel


def test_col2im_is_the_adjoint_of_im2col():
    """<im2col(x), c> = <x, col2im(c)> for every x and c: the defining property of an adjoint."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 6, 5))
    cols = rng.standard_normal(kernels.im2col(x, (3, 2), (2, 1)).shape)
    lhs = (kernels.im2col(x, (3, 2), (2, 1)) * cols).sum()
    rhs = (x * kernels.conv.col2im(cols, x.shape, (3, 2), (2, 1))).sum()
    assert abs(lhs - rhs) < 1e-10 * abs(lhs)


# ---------------------------------------------------------------------------------------------- max-pool kernel
@pytest.mark.parametrize("layout", ["nchw", "channel-major"])
@pytest.mark.parametrize("kernel, stride, padding", [((2, 2), (2, 2), (0, 0)), ((3, 3), (2, 2), (1, 1)),
                                                      ((3, 2), (1, 2), (1, 0)), ((2, 2), (1, 1), (0, 0))])
def test_max_pool_routing_agrees(kernel, stride, padding, layout, device):
    rng = np.random.default_rng(5)
    x = np.round(rng.standard_normal((3, 4, 8, 7)), 1)  # rounded: many ties, which must go to the first maximum
    x[0, 0, :2, :2] = np.nan
    x[1, 1] = -np.inf  # a window of -inf next to -inf padding: the padding must not win
    x = on_device(channel_major_copy(x) if layout == "channel-major" else x, device)
    out = F.max_pool2d(tg.Tensor(x, dtype=x.dtype), kernel, stride, padding).array
    g = on_device(rng.standard_normal(out.shape), device)
    fast, plain = both_versions(kernels.route_to_window_max, g, x, out, kernel, stride, padding)
    assert fast.shape == x.shape
    assert_same(fast, plain, "route_to_window_max")


def test_the_switch_reads_the_environment(monkeypatch):
    monkeypatch.setenv("TINYGRAD_BN_KERNELS", "faster")
    with pytest.raises(ValueError, match="TINYGRAD_BN_KERNELS='faster'"):
        kernels.switch._plain_from_environment()
    monkeypatch.setenv("TINYGRAD_BN_KERNELS", "plain")
    assert kernels.switch._plain_from_environment()
    with kernels.plain():
        assert kernels.use_plain()
        with kernels.plain(False):
            assert not kernels.use_plain()
        assert kernels.use_plain()
