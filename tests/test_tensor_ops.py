"""Every differentiable Tensor op: gradcheck in float64, and values and gradients equal to PyTorch's.

The ops are one table, CASES. Each row's function runs unchanged on tinygrad_bn Tensors and on torch tensors (the
APIs share names), so the same expression is differentiated by both libraries from identical float64 inputs.
Where PyTorch spells an op differently (it has no negative slice steps), the row gives `torch_fn`.
"""
import sys
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_bn as tg
from tinygrad_bn import gradcheck
from conftest import assert_close, import_torch, tensor, torch_tensor


def lib(t):
    """The library a tensor belongs to, so one lambda can call `cat`, `stack` or a dtype in either."""
    return tg if isinstance(t, tg.Tensor) else sys.modules["torch"]


def index_tensor(x):
    """An integer index tensor [0, 1, 0, 0] built the same way in both libraries (repeats must accumulate)."""
    return lib(x).cat([lib(x).arange(2), lib(x).zeros(2, dtype=lib(x).int64)])


@dataclass
class Case:
    name: str
    fn: object
    shapes: tuple
    torch_fn: object = None  # where PyTorch spells the same computation differently
    positive: tuple = ()  # indices of inputs that must be > 0 (log, sqrt, a pow base, a divisor)
    kinks: tuple = ()  # points where fn has no derivative: inputs are kept at least 0.05 away from them

    def make_inputs(self, seed=0):
        rng = np.random.default_rng(seed)
        arrays = []
        for i, shape in enumerate(self.shapes):
            if i in self.positive:
                a = np.asarray(rng.uniform(0.5, 2.0, shape))
            else:
                a = np.asarray(rng.standard_normal(shape))
                for kink in self.kinks:
                    a = np.where(np.abs(a - kink) < 0.05, a + 0.1, a)
            arrays.append(a)
        return arrays


def case(name, fn, *shapes, **options):
    return Case(name, fn, shapes, **options)


A3 = (2, 3, 4)  # the default 3-D input for reductions and shape ops
CASES = [
    # arithmetic with broadcasting, and Python scalars on either side
    case("add", lambda x, y: x + y, (2, 3), (2, 3)),
    case("add_broadcast", lambda x, y: x + y, (4, 1, 3), (2, 1)),
    case("add_0d", lambda x, y: x + y, (), (2, 3)),
    case("add_scalars", lambda x: 2.5 + x + 1, (2, 3)),
    case("add_transposed", lambda x, y: x.transpose(0, 1) + y, (3, 2), (2, 3)),
    case("sub_broadcast", lambda x, y: x - y, (2, 3), (3,)),
    case("rsub_scalar", lambda x: 1.5 - x, (2, 3)),
    case("mul_broadcast", lambda x, y: x * y, (3, 1), (1, 4)),
    case("mul_trailing", lambda x, y: x * y, A3, (4,)),
    case("mul_scalars", lambda x: 3 * x * 0.5, (2, 3)),
    case("mul_self", lambda x: x * x, (2, 3)),
    case("div_broadcast", lambda x, y: x / y, (2, 3), (2, 1), positive=(1,)),
    case("div_scalar", lambda x: x / 4, (2, 3)),
    case("rdiv_scalar", lambda x: 2 / x, (2, 3), positive=(0,)),
    case("pow_int", lambda x: x ** 3, (2, 3)),
    case("pow_float", lambda x: x ** 2.5, (2, 3), positive=(0,)),
    case("pow_negative", lambda x: x ** -1.5, (2, 3), positive=(0,)),
    case("rpow_scalar", lambda x: 2.0 ** x, (2, 3)),
    case("pow_tensor", lambda x, y: x ** y, (2, 3), (3,), positive=(0,)),
    case("neg", lambda x: -x, (2, 3)),
    # matrix products: vectors, matrices, batches, broadcast batches
    case("matmul_1d_1d", lambda x, y: x @ y, (4,), (4,)),
    case("matmul_2d_1d", lambda x, y: x @ y, (3, 4), (4,)),
    case("matmul_1d_2d", lambda x, y: x @ y, (4,), (4, 2)),
    case("matmul_2d_2d", lambda x, y: x.matmul(y), (3, 4), (4, 2)),
    case("matmul_batched", lambda x, y: x @ y, (2, 3, 4), (2, 4, 2)),
    case("matmul_batched_2d", lambda x, y: x @ y, (2, 3, 4), (4, 2)),
    case("matmul_4d_2d", lambda x, y: x @ y, (2, 2, 3, 4), (4, 2)),  # the backward's one-GEMM weight gradient
    case("matmul_1d_batched", lambda x, y: x @ y, (4,), (2, 4, 3)),
    case("matmul_broadcast_batch", lambda x, y: x @ y, (2, 1, 3, 4), (3, 4, 2)),
    case("matmul_transposed", lambda x, y: x.transpose(-1, -2) @ y, (4, 3), (4, 2)),
    # elementwise math
    case("exp", lambda x: x.exp(), (2, 3)),
    case("log", lambda x: x.log(), (2, 3), positive=(0,)),
    case("sqrt", lambda x: x.sqrt(), (2, 3), positive=(0,)),
    case("tanh", lambda x: x.tanh(), (2, 3)),
    case("sigmoid", lambda x: (x * 5).sigmoid(), (2, 3)),
    case("relu", lambda x: x.relu(), (3, 4), kinks=(0.0,)),
    case("abs", lambda x: x.abs(), (3, 4), kinks=(0.0,)),
    case("clamp_min", lambda x: x.clamp(min=-0.3), (3, 4), kinks=(-0.3,)),
    case("clamp_max", lambda x: x.clamp(max=0.4), (3, 4), kinks=(0.4,)),
    case("clamp_both", lambda x: x.clamp(-0.5, 0.5), (3, 4), kinks=(-0.5, 0.5)),
    case("clip", lambda x: x.clip(-0.5, 0.5), (3, 4), kinks=(-0.5, 0.5)),
    # trigonometric and hyperbolic (asin and acos need |x| < 1: tanh * 0.9 keeps them inside)
    case("sin", lambda x: x.sin(), (2, 3)),
    case("cos", lambda x: x.cos(), (2, 3)),
    case("tan", lambda x: (x * 0.5).tan(), (2, 3)),
    case("asin", lambda x: (x.tanh() * 0.9).asin(), (2, 3)),
    case("acos", lambda x: (x.tanh() * 0.9).acos(), (2, 3)),
    case("atan", lambda x: x.atan(), (2, 3)),
    case("atan2_broadcast", lambda y, x: y.atan2(x), (2, 3), (3,)),
    case("atan2_torch", lambda y, x: lib(y).atan2(y, x), (2, 3), (2, 3)),
    case("sinh", lambda x: x.sinh(), (2, 3)),
    case("cosh", lambda x: x.cosh(), (2, 3)),
    # reductions: dim None, int, negative, tuple, keepdim
    case("sum_all", lambda x: x.sum(), A3),
    case("sum_dim", lambda x: x.sum(1), A3),
    case("sum_negative_dim", lambda x: x.sum(dim=-1), A3),
    case("sum_tuple", lambda x: x.sum((0, 2)), A3),
    case("sum_keepdim", lambda x: x.sum(dim=1, keepdim=True), A3),
    case("sum_tuple_keepdim", lambda x: x.sum(dim=(0, -1), keepdim=True), A3),
    case("mean_all", lambda x: x.mean(), A3),
    case("mean_dim", lambda x: x.mean(1), A3),
    case("mean_negative_dim", lambda x: x.mean(dim=-2), A3),
    case("mean_tuple", lambda x: x.mean((0, 2)), A3),
    case("mean_keepdim", lambda x: x.mean(dim=(1, -1), keepdim=True), A3),
    case("max_all", lambda x: x.max(), A3),
    case("max_dim", lambda x: x.max(dim=1).values, A3),
    case("max_dim_keepdim", lambda x: x.max(dim=-1, keepdim=True).values, A3),
    case("min_all", lambda x: x.min(), A3),
    case("min_dim", lambda x: x.min(0).values, A3),
    case("min_dim_keepdim", lambda x: x.min(dim=2, keepdim=True)[0], A3),
    case("var_all", lambda x: x.var(), A3),
    case("var_biased", lambda x: x.var(unbiased=False), A3),
    case("var_dim", lambda x: x.var(1), A3),
    case("var_dims_biased", lambda x: x.var(dim=(0, 2), unbiased=False), A3),
    case("var_keepdim", lambda x: x.var(dim=-1, keepdim=True), A3),
    case("prod_all", lambda x: x.prod(), A3),
    case("prod_dim", lambda x: x.prod(1), A3),
    case("prod_keepdim", lambda x: x.prod(dim=-1, keepdim=True), A3),
    case("cumsum", lambda x: x.cumsum(1), A3),
    case("cumsum_negative_dim", lambda x: lib(x).cumsum(x, dim=-1), A3),
    case("cumprod", lambda x: x.cumprod(0), A3),
    case("cumprod_last", lambda x: lib(x).cumprod(x, -1), A3),
    # shape ops
    case("reshape", lambda x: x.reshape(4, 6), A3),
    case("reshape_infer", lambda x: x.reshape(-1), A3),
    case("reshape_tuple", lambda x: x.reshape((6, -1)), A3),
    case("view", lambda x: x.view(3, 8), A3),
    case("permute", lambda x: x.permute(2, 0, 1), A3),
    case("permute_negative", lambda x: x.permute(-1, 0, 1), A3),
    case("transpose", lambda x: x.transpose(0, 2), A3),
    case("transpose_negative", lambda x: x.transpose(-1, -2), A3),
    case("T", lambda x: x.T, (3, 2)),
    case("flatten", lambda x: x.flatten(), A3),
    case("flatten_start", lambda x: x.flatten(1), A3),
    case("flatten_range", lambda x: x.flatten(0, 1), A3),
    case("unsqueeze", lambda x: x.unsqueeze(0), (2, 3)),
    case("unsqueeze_negative", lambda x: x.unsqueeze(-1), (2, 3)),
    case("squeeze_all", lambda x: x.squeeze(), (2, 1, 3, 1)),
    case("squeeze_dim", lambda x: x.squeeze(1), (2, 1, 3, 1)),
    case("squeeze_negative", lambda x: x.squeeze(-1), (2, 1, 3, 1)),
    case("expand", lambda x: x.expand(2, 3, 4), (1, 3, 1)),
    case("expand_keep", lambda x: x.expand(-1, 4), (3, 1)),
    # indexing: basic, negative steps, integer arrays with repeats, boolean masks, Tensor indices
    case("getitem_int", lambda x: x[1], (3, 4)),
    case("getitem_slice", lambda x: x[:, 1:3], (3, 4)),
    case("getitem_step", lambda x: x[::2, 1::2], (3, 4)),
    case("getitem_ellipsis", lambda x: x[..., -1], A3),
    case("getitem_none", lambda x: x[None, 0], (3, 4)),
    case("getitem_negative_step", lambda x: x[::-1], (3, 4), torch_fn=lambda x: x.flip(0)),
    case("getitem_negative_step2", lambda x: x[1:, ::-2], (3, 4), torch_fn=lambda x: x[1:].flip(1)[:, ::2]),
    case("getitem_repeats", lambda x: x[[0, 2, 0]], (3, 4)),
    case("getitem_pairs", lambda x: x[[0, 1, 1], [2, 0, 2]], (3, 4)),
    case("getitem_columns", lambda x: x[:, [1, 1, 0]], (3, 4)),
    case("getitem_mask", lambda x: x[x.detach() > 0], (3, 4), kinks=(0.0,)),
    case("getitem_tensor", lambda x: x[index_tensor(x)], (3, 4)),
    # gathering and scattering along a dim: repeated indices must accumulate (gather, scatter_add, index_add)
    case("gather", lambda x: x.gather(1, lib(x).tensor([[0, 3, 3], [2, 1, 0], [1, 1, 1]])), (3, 4)),
    case("gather_smaller_index", lambda x: lib(x).gather(x, 0, lib(x).tensor([[2, 0], [2, 2]])), (3, 4)),
    case("scatter", lambda x, y: x.scatter(1, lib(x).tensor([[0, 3], [2, 1]]), y), (3, 4), (2, 2)),
    case("scatter_value", lambda x: x.scatter(0, lib(x).tensor([[2, 0, 1, 1]]), 1.5), (3, 4)),
    case("scatter_add", lambda x, y: x.scatter_add(0, lib(x).tensor([[2, 0, 2], [2, 1, 0]]), y), (3, 4), (2, 3)),
    case("index_add", lambda x, y: x.index_add(1, lib(x).tensor([3, 0, 3]), y, alpha=-2.0), (3, 4), (3, 3)),
    # scatter_reduce: each reached position's values lined up in a padded row, reduced (tests/test_index_ops.py)
    case("scatter_reduce_sum", lambda x, y: x.scatter_reduce(0, lib(x).tensor([[2, 0, 2], [2, 1, 0]]), y, "sum"),
         (3, 4), (2, 3)),
    case("scatter_reduce_prod", lambda x, y: lib(x).scatter_reduce(x, 1, lib(x).tensor([[0, 0], [3, 1]]), y, "prod",
                                                                    include_self=False), (3, 4), (2, 2)),
    case("scatter_reduce_mean", lambda x, y: x.scatter_reduce(0, lib(x).tensor([[2, 0, 2], [2, 1, 0]]), y, "mean"),
         (3, 4), (2, 3)),
    case("scatter_reduce_amax", lambda x, y: x.scatter_reduce(1, lib(x).tensor([[1, 1, 2], [0, 3, 3]]), y, "amax"),
         (3, 4), (2, 3)),
    case("scatter_reduce_amin", lambda x, y: x.scatter_reduce(0, lib(x).tensor([[1, 1, 2]]), y, "amin",
                                                              include_self=False), (3, 4), (2, 3)),
    case("scatter_add_reduce", lambda x, y: x.scatter(1, lib(x).tensor([[0, 0], [3, 1]]), y, reduce="add"),
         (3, 4), (2, 2), torch_fn=lambda x, y: x.scatter_add(1, lib(x).tensor([[0, 0], [3, 1]]), y)),
    case("index_fill", lambda x: x.index_fill(1, lib(x).tensor([3, 0, 3]), -1.5), (3, 4)),
    case("index_fill_tensor", lambda x, v: lib(x).index_fill(x, 0, lib(x).tensor([2]), v), (3, 4), ()),
    case("index_copy", lambda x, y: x.index_copy(1, lib(x).tensor([3, 0]), y), (3, 4), (3, 2)),
    case("index_put", lambda x, y: x.index_put((lib(x).tensor([0, 2]), lib(x).tensor([1, -1])), y), (3, 4), (2,)),
    case("index_put_accumulate", lambda x, y: lib(x).index_put(x, (lib(x).tensor([0, 2, 0]),), y, accumulate=True),
         (3, 4), (4,)),
    case("masked_scatter", lambda x, y: x.masked_scatter(lib(x).tensor([[True], [False], [True]]), y), (3, 4),
         (3, 3)),
    # sorting: the values are differentiable (random inputs have no ties)
    case("sort", lambda x: x.sort().values, A3),
    case("sort_descending", lambda x: lib(x).sort(x, dim=0, descending=True)[0], A3),
    case("topk", lambda x: x.topk(2).values, A3),
    case("topk_smallest", lambda x: lib(x).topk(x, 3, dim=1, largest=False).values, A3),
    # softmax family
    case("softmax", lambda x: x.softmax(-1), (3, 4)),
    case("softmax_dim0", lambda x: x.softmax(dim=0), (3, 4)),
    case("log_softmax", lambda x: x.log_softmax(1), (3, 4)),
    case("log_softmax_3d", lambda x: x.log_softmax(dim=1), A3),
    # joining
    case("cat", lambda x, y: lib(x).cat([x, y]), (2, 3), (1, 3)),
    case("cat_last", lambda x, y, z: lib(x).cat([x, y, z], dim=-1), (2, 3), (2, 2), (2, 1)),
    case("stack", lambda x, y: lib(x).stack([x, y]), (2, 3), (2, 3)),
    case("stack_middle", lambda x, y, z: lib(x).stack([x, y, z], dim=1), (2, 3), (2, 3), (2, 3)),
    case("stack_last", lambda x, y: lib(x).stack([x, y], dim=-1), (2, 3), (2, 3)),
    # einsum (composed from permute, reshape, expand, sum and matmul)
    case("einsum_matmul", lambda x, y: lib(x).einsum("ij,jk->ik", x, y), (2, 3), (3, 4)),
    case("einsum_batch_matmul", lambda x, y: lib(x).einsum("bij,bkj->bik", x, y), A3, (2, 2, 4)),
    case("einsum_outer", lambda x, y: lib(x).einsum("i,j", x, y), (3,), (2,)),
    case("einsum_diagonal", lambda x: lib(x).einsum("ii->i", x), (3, 3)),
    case("einsum_ellipsis", lambda x, y: lib(x).einsum("...ij,...j->...i", x, y), A3, (3, 1, 4)),
    case("einsum_three", lambda x, y, z: lib(x).einsum("ij,jk,k->i", x, y, z), (2, 3), (3, 4), (4,)),
    # more elementwise math (the torch.* twins and x.* methods of tests/test_more_math.py)
    case("log1p", lambda x: x.log1p(), (2, 3), positive=(0,)),
    case("expm1", lambda x: lib(x).expm1(x), (2, 3)),
    case("log2", lambda x: lib(x).log2(x), (2, 3), positive=(0,)),
    case("log10", lambda x: x.log10(), (2, 3), positive=(0,)),
    case("erf", lambda x: x.erf(), (2, 3)),
    case("erfc", lambda x: lib(x).erfc(x), (2, 3)),
    case("lerp_scalar", lambda x, y: x.lerp(y, 0.3), (2, 3), (3,)),
    case("lerp_tensor", lambda x, y, w: lib(x).lerp(x, y, w), (2, 3), (2, 3), (3,)),
    case("logaddexp", lambda x, y: lib(x).logaddexp(x, y * 3), (2, 3), (3,)),
    case("hypot", lambda x, y: x.hypot(y), (2, 3), (2, 3)),
    case("logit", lambda x: x.sigmoid().logit(), (2, 3)),
    case("logit_eps", lambda x: lib(x).logit(x.sigmoid(), eps=0.3), (3, 4), kinks=(-0.85, 0.85)),
    case("nan_to_num", lambda x: (x.log() * 2).nan_to_num(posinf=5.0), (2, 3), positive=(0,)),
    case("fmod", lambda x, y: x.fmod(y), (2, 3), (3,), positive=(1,)),
    case("fmod_scalar", lambda x: lib(x).fmod(x * 3, -1.5), (2, 3), kinks=(0.0, 0.5, -0.5)),
    case("remainder", lambda x, y: lib(x).remainder(x, y), (2, 3), (2, 1), positive=(1,), kinks=(0.0,)),
    case("remainder_operator", lambda x: x % 0.7, (2, 3), kinks=(0.0, 0.7, -0.7)),
    case("clamp_min_method", lambda x: x.clamp_min(-0.3), (3, 4), kinks=(-0.3,)),
    case("clamp_max_twin", lambda x: lib(x).clamp_max(x, 0.4), (3, 4), kinks=(0.4,)),
    # more reductions
    case("amax_all", lambda x: x.amax(), A3),
    case("amax_dims", lambda x: lib(x).amax(x, dim=(0, 2)), A3),
    case("amax_keepdim", lambda x: x.amax(-1, keepdim=True), A3),
    case("amin_dims", lambda x: lib(x).amin(x, (1, -1), keepdim=True), A3),
    case("aminmax", lambda x: (lambda r: r.min * 2 + r.max)(lib(x).aminmax(x, dim=1)), A3),
    case("logcumsumexp", lambda x: (x * 4).logcumsumexp(1), A3),
    case("logcumsumexp_twin", lambda x: lib(x).logcumsumexp(x, dim=-1), A3),
    case("var_mean", lambda x: (lambda v, m: v * m)(*lib(x).var_mean(x, 1, keepdim=True)), A3),
    case("std_mean", lambda x: (lambda s, m: s + m)(*lib(x).std_mean(x, (0, 2), correction=0)), A3),
    case("median", lambda x: x.median(), A3),
    case("median_dim", lambda x: lib(x).median(x, 1).values, A3),
    case("median_keepdim", lambda x: x.median(-1, keepdim=True)[0], A3),
    case("mode", lambda x: x.mode(1).values, A3),  # no repeats: the smallest value (ties: tests/test_index_ops.py)
    case("quantile", lambda x: x.quantile(0.3), A3),
    case("quantile_dim_tensor", lambda x: lib(x).quantile(x, lib(x).tensor([0.25, 0.5, 1.0], dtype=x.dtype), dim=1,
                                                          keepdim=True), A3),
    case("quantile_midpoint", lambda x: x.quantile(0.4, 2, interpolation="midpoint"), A3),
    case("quantile_nearest", lambda x: lib(x).quantile(x, 0.5, -1, interpolation="nearest"), A3),
    case("nanmean", lambda x: lib(x).where(x.detach() > 0.5, x, float("nan")).nanmean(1), A3, kinks=(0.5,)),
    case("nanmean_all", lambda x: lib(x).nanmean(lib(x).where(x.detach() < 0, float("nan"), x)), A3, kinks=(0.0,)),
    case("cummax", lambda x: x.cummax(1).values, A3),
    case("cummin", lambda x: lib(x).cummin(x, dim=-1)[0], A3),
    # more products
    case("addmm", lambda b, x, y: lib(x).addmm(b, x, y, beta=0.5, alpha=-2.0), (4,), (3, 2), (2, 4)),
    case("addmm_method", lambda b, x, y: b.addmm(x, y), (3, 4), (3, 2), (2, 4)),
    case("baddbmm", lambda b, x, y: lib(x).baddbmm(b, x, y, alpha=0.5), (1, 3, 4), (2, 3, 2), (2, 2, 4)),
    case("addbmm", lambda b, x, y: b.addbmm(x, y, beta=2.0), (3, 4), (2, 3, 2), (2, 2, 4)),
    case("diag_vector", lambda x: lib(x).diag(x), (3,)),
    case("diag_vector_offset", lambda x: lib(x).diag(x, -2), (3,)),
    case("diag_matrix", lambda x: x.diag(1), (3, 4)),
    case("diagonal", lambda x: x.diagonal(), (3, 4)),
    case("diagonal_dims", lambda x: lib(x).diagonal(x, offset=-1, dim1=2, dim2=0), A3),
    case("trace", lambda x: x.trace(), (3, 4)),
    case("cross", lambda x, y: lib(x).cross(x, y, dim=1), (2, 3), (2, 3)),
    case("cross_broadcast", lambda x, y: x.cross(y, dim=-1), (2, 1, 3), (1, 4, 3)),
    case("kron", lambda x, y: lib(x).kron(x, y), (2, 3), (3, 2)),
    case("kron_mixed_ndim", lambda x, y: x.kron(y), (3,), (2, 2)),
    # more shape ops
    case("tile", lambda x: x.tile((2, 1, 2)), (2, 3)),
    case("tile_fewer", lambda x: lib(x).tile(x, (2,)), (2, 3)),
    case("repeat_interleave", lambda x: x.repeat_interleave(2), (2, 3)),
    case("repeat_interleave_tensor", lambda x: lib(x).repeat_interleave(x, lib(x).tensor([2, 0, 1]), dim=1), (2, 3)),
    case("movedim", lambda x: lib(x).movedim(x, 0, -1), A3),
    case("moveaxis_tuple", lambda x: x.moveaxis((0, 1), (2, 0)), A3),
    case("swapaxes", lambda x: lib(x).swapaxes(x, 0, 2), A3),
    case("swapdims", lambda x: x.swapdims(-1, 1), A3),
    case("hstack", lambda x, y: lib(x).hstack([x, y]), (2, 3), (2, 1)),
    case("hstack_vectors", lambda x, y: lib(x).hstack((x, y)), (3,), (2,)),
    case("vstack", lambda x, y: lib(x).vstack([x, y]), (3,), (2, 3)),
    case("dstack", lambda x, y: lib(x).dstack([x, y]), (2, 3), (2, 3, 2)),
    case("column_stack", lambda x, y: lib(x).column_stack([x, y]), (3,), (3, 2)),
    case("meshgrid_ij", lambda x, y: (lambda a, b: a * b + a)(*lib(x).meshgrid(x, y, indexing="ij")), (3,), (2,)),
    case("meshgrid_xy", lambda x, y, z: (lambda a, b, c: a * b - c)(*lib(x).meshgrid([x, y, z], indexing="xy")),
         (3,), (2,), (4,)),
    case("tensor_split", lambda x: (lambda a, b, c: a.sum() * b.sum() + c.sum())(*x.tensor_split(3, dim=1)), (2, 7)),
    case("tensor_split_indices", lambda x: lib(x).tensor_split(x, [1, 5], dim=-1)[1], (2, 7)),
    case("hsplit", lambda x: lib(x).hsplit(x, 2)[1], (2, 4)),
    case("vsplit", lambda x: x.vsplit([1])[1], (3, 2)),
    case("rot90", lambda x: lib(x).rot90(x), A3),
    case("rot90_k3_dims", lambda x: x.rot90(3, [2, 0]), A3),
    case("rot90_k2", lambda x: x.rot90(-2), A3),
    case("flipud", lambda x: lib(x).flipud(x), (3, 4)),
    case("fliplr", lambda x: x.fliplr(), (3, 4)),
    case("narrow_twin", lambda x: lib(x).narrow(x, 1, 1, 2), (3, 4)),
    case("take_along_dim", lambda x: x.take_along_dim(lib(x).tensor([[0, 3], [1, 1], [2, 0]]), dim=1), (3, 4)),
    case("take_along_dim_broadcast", lambda x: lib(x).take_along_dim(x, lib(x).tensor([[[1], [0], [1]]]), 0), A3),
    case("take_along_dim_flat", lambda x: lib(x).take_along_dim(x, lib(x).tensor([5, 0, 5])), (3, 4)),
    case("masked_select", lambda x: x.masked_select(x.detach() > 0), (3, 4), kinks=(0.0,)),
    case("masked_select_broadcast", lambda x: lib(x).masked_select(x, lib(x).tensor([True, False, True])), (2, 3)),
    case("diff", lambda x: x.diff(), A3),
    case("diff_n2_prepend_append", lambda x, p, a: lib(x).diff(x, n=2, dim=0, prepend=p, append=a), (3, 4), (1, 4),
         (2, 4)),
    case("block_diag", lambda x, y, z: lib(x).block_diag(x, y, z), (), (3,), (2, 2)),
    case("cartesian_prod", lambda x, y: lib(x).cartesian_prod(x, y), (3,), (2,)),
    case("unflatten", lambda x: x.unflatten(2, (2, -1)), A3),
    case("unflatten_twin", lambda x: lib(x).unflatten(x, -2, (1, 3)), A3),
    case("tensordot", lambda x, y: lib(x).tensordot(x, y, 1), A3, (4, 2)),
    case("tensordot_pairs", lambda x, y: lib(x).tensordot(x, y, dims=([0, 2], [2, 0])), A3, (4, 2, 2)),
    # dtype moves (float64 -> float64 here; float32 round trips are in test_autograd.py)
    case("to_dtype", lambda x: x.to(lib(x).float64) * 2, (2, 3)),
    case("double", lambda x: x.double() * 2, (2, 3)),
]
CASTS = {"to_dtype", "double"}  # rows whose output dtype is float64 whatever the input's

# Fortran-ordered (column-major) inputs: every op must also work on arrays that are not C-contiguous.
GRADCHECK_PARAMS = [pytest.param(c, "contiguous", id=f"{c.name}-contiguous") for c in CASES] + [
    pytest.param(c, "fortran", id=f"{c.name}-fortran") for c in CASES if any(len(s) >= 2 for s in c.shapes)]


@pytest.mark.parametrize("case, layout", GRADCHECK_PARAMS)
def test_gradcheck(case, layout, device):
    arrays = case.make_inputs()
    if layout == "fortran":
        arrays = [np.asfortranarray(a) for a in arrays]
    inputs = [tensor(a, device, requires_grad=True) for a in arrays]
    assert gradcheck(case.fn, inputs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_matches_torch(case, device):
    import_torch()
    arrays = case.make_inputs()
    ours = [tensor(a, device, requires_grad=True) for a in arrays]
    theirs = [torch_tensor(a, requires_grad=True) for a in arrays]
    out = case.fn(*ours)
    expected = (case.torch_fn or case.fn)(*theirs)
    assert out.dtype == np.float64 and out.device == device
    assert_close(out, expected, what=f"{case.name} forward")

    upstream = np.random.default_rng(1).standard_normal(expected.shape)  # the same dL/d(out) for both
    out.backward(tensor(upstream, device))
    expected.backward(torch_tensor(upstream))
    for i, (x, t) in enumerate(zip(ours, theirs)):
        assert x.grad is not None and x.grad.dtype == np.float64 and x.grad.device == device
        assert_close(x.grad, t.grad, what=f"{case.name} gradient of input {i}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_dtype_is_kept(case, dtype, device):
    """float32 stays float32 (no silent upcast), float64 stays float64: outputs, each op's backward, leaf grads."""
    inputs = [tensor(a, device, requires_grad=True, dtype=dtype) for a in case.make_inputs()]
    out = case.fn(*inputs)
    expected = np.float64 if case.name in CASTS else dtype
    assert out.dtype == expected
    # The engine casts every gradient to its input's dtype; call the last op's backward directly to see that
    # the op itself computes in the input's dtype.
    local_grads = out.grad_fn.backward(out.array * 0 + 1)
    for g in local_grads if isinstance(local_grads, tuple) else (local_grads,):
        assert g is None or g.dtype == out.grad_fn.input_specs[0][1] or case.name in CASTS
    out.sum().backward()
    assert all(x.grad.dtype == dtype for x in inputs)


def test_fortran_inputs_are_really_not_contiguous():
    """The "fortran" gradchecks above only mean something if the Tensor keeps the column-major layout."""
    x = tg.Tensor(np.asfortranarray(np.ones((3, 4))))
    assert not x.array.flags.c_contiguous


# ------------------------------------------------------------------------------------------ ops with two outputs
@pytest.mark.parametrize("dim, keepdim", [(0, False), (1, True), (-1, False), (-2, True)])
@pytest.mark.parametrize("reduction", ["max", "min"])
def test_max_min_values_and_indices_match_torch(reduction, dim, keepdim, device):
    import_torch()
    a = np.random.default_rng(2).standard_normal(A3)
    values, indices = getattr(tensor(a, device), reduction)(dim=dim, keepdim=keepdim)
    expected = getattr(torch_tensor(a), reduction)(dim=dim, keepdim=keepdim)
    assert_close(values, expected.values)
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())


def test_full_max_shares_the_gradient_between_ties_like_torch(device):
    a = np.array([[1.0, 3.0, 3.0], [0.0, 3.0, -1.0]])
    x = tensor(a, device, requires_grad=True)
    x.max().backward()
    torch = import_torch()
    t = torch_tensor(a, requires_grad=True)
    t.max().backward()
    assert_close(x.grad, t.grad)
    assert_close(x.grad.sum(), torch.tensor(1.0, dtype=torch.float64))


# ----------------------------------------------------------------------------------------------- softmax family
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_of_huge_logits_stays_finite(op, dtype, device):
    import_torch()
    a = np.array([[1e4, -1e4, 0.0, 2e4], [-3e4, -3e4, -3e4, -3e4]])
    x = tensor(a, device, requires_grad=True, dtype=dtype)
    out = getattr(x, op)(dim=1)
    weights = np.arange(8.0).reshape(2, 4)
    (out * tensor(weights, device, dtype=dtype)).sum().backward()
    assert np.isfinite(out.numpy()).all() and np.isfinite(x.grad.numpy()).all()

    t = torch_tensor(a, requires_grad=True)
    expected = getattr(t, op)(dim=1)
    (expected * torch_tensor(weights)).sum().backward()
    tolerance = 1e-6 if dtype == np.float32 else 1e-8
    assert_close(out.numpy().astype(np.float64), expected, rtol=tolerance, atol=tolerance)
    assert_close(x.grad.numpy().astype(np.float64), t.grad, rtol=tolerance, atol=tolerance)


def test_sigmoid_is_accurate_in_both_tails(device):
    """1 + tanh(x/2) cancels to 0 for very negative x; the result must keep its relative accuracy there too."""
    import_torch()
    a = np.array([-700.0, -40.0, -20.0, -1.0, 0.0, 1.0, 20.0, 40.0, 700.0])
    x = tensor(a, device, requires_grad=True)
    t = torch_tensor(a, requires_grad=True)
    out, expected = x.sigmoid(), t.sigmoid()
    assert_close(out, expected, atol=0)
    out.sum().backward()
    expected.sum().backward()
    assert_close(x.grad, t.grad, atol=0)
    assert np.isfinite(tensor(a, device, dtype=np.float32).sigmoid().numpy()).all()


# --------------------------------------------------------------------------- property tests over random shapes
BINARY_OPS = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
              "div": lambda x, y: x / y, "pow": lambda x, y: x ** y}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
       op=st.sampled_from(sorted(BINARY_OPS)), seed=st.integers(0, 2**16))
def test_broadcasting_binary_ops_match_torch(shapes, op, seed, device):
    """Any two broadcastable shapes: the same value as PyTorch, and each gradient summed back to its input's shape."""
    import_torch()
    rng = np.random.default_rng(seed)
    a, b = (rng.uniform(0.5, 2.0, shape) for shape in shapes.input_shapes)  # positive: a valid base and divisor
    x, y = tensor(a, device, requires_grad=True), tensor(b, device, requires_grad=True)
    tx, ty = torch_tensor(a, requires_grad=True), torch_tensor(b, requires_grad=True)
    out, expected = BINARY_OPS[op](x, y), BINARY_OPS[op](tx, ty)
    assert_close(out, expected)
    upstream = rng.standard_normal(expected.shape)
    out.backward(tensor(upstream, device))
    expected.backward(torch_tensor(upstream))
    assert x.grad.shape == np.shape(a) and y.grad.shape == np.shape(b)
    assert_close(x.grad, tx.grad)
    assert_close(y.grad, ty.grad)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3),
       m=st.integers(1, 3), k=st.integers(1, 3), n=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_matmul_with_broadcast_batches_matches_torch(batch, m, k, n, seed, device):
    import_torch()
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(batch.input_shapes[0] + (m, k))
    b = rng.standard_normal(batch.input_shapes[1] + (k, n))
    x, y = tensor(a, device, requires_grad=True), tensor(b, device, requires_grad=True)
    tx, ty = torch_tensor(a, requires_grad=True), torch_tensor(b, requires_grad=True)
    out, expected = x @ y, tx @ ty
    assert_close(out, expected)
    out.sum().backward()
    expected.sum().backward()
    assert_close(x.grad, tx.grad)
    assert_close(y.grad, ty.grad)


def test_masks_combine_with_invert_and_or_xor_like_torch(device):
    """`~pad & causal`: logical on bool tensors, bitwise on integers, with a Tensor or a Python scalar on the right."""
    torch = import_torch()
    a, b = np.array([True, True, False, False]), np.array([True, False, True, False])
    n = np.array([12, 10, -3, 0])
    ours_a, ours_b, ours_n = tensor(a, device), tensor(b, device), tensor(n, device)
    theirs_a, theirs_b, theirs_n = torch.tensor(a), torch.tensor(b), torch.tensor(n)
    for ours, theirs in [(~ours_a, ~theirs_a), (ours_a & ours_b, theirs_a & theirs_b),
                         (ours_a | ours_b, theirs_a | theirs_b), (ours_a ^ ours_b, theirs_a ^ theirs_b),
                         (ours_a & True, theirs_a & True), (~ours_n, ~theirs_n), (ours_n & 6, theirs_n & 6),
                         (ours_n | ours_n.flip(0), theirs_n | theirs_n.flip(0))]:
        assert ours.dtype == theirs.numpy().dtype
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
