"""What two of PyTorch's tutorials use: EmbeddingBag (text classification) and affine_grid + grid_sample (the
spatial transformer), checked against PyTorch on the same inputs: values and gradients in float64 (and float32),
each mode, a float64 gradcheck of each, and the errors.
"""
import warnings

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
import tinygrad_bn.nn.functional as F
from tinygrad_bn import gradcheck
from conftest import assert_close, import_torch, tensor, torch_tensor


# ---------------------------------------------------------------------------------------------------------------
# embedding_bag and EmbeddingBag
# ---------------------------------------------------------------------------------------------------------------
INDICES = np.array([1, 2, 3, 3, 5, 0, 6, 2, 4, 3])
# Bags [0:2], [2:2] (empty), [2:5], [5:10]; with include_last_offset the boundaries end with len(INDICES).
OFFSETS = np.array([0, 2, 2, 5])
LAYOUTS = {
    "2-D": dict(input=INDICES[:9].reshape(3, 3), offsets=None, include_last_offset=False),
    "offsets": dict(input=INDICES, offsets=OFFSETS, include_last_offset=False),
    "include_last_offset": dict(input=INDICES, offsets=np.append(OFFSETS, len(INDICES)), include_last_offset=True),
}


def _both_embedding_bags(device, layout, mode, padding_idx, dtype=np.float64, with_sample_weights=False):
    """(ours, PyTorch's) outputs and the leaves that require grad, on the same weights and indices."""
    torch = import_torch()
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((7, 4)).astype(dtype)
    spec = LAYOUTS[layout]
    sample_weights = rng.standard_normal(spec["input"].shape).astype(dtype) if with_sample_weights else None
    ours_leaves = [tensor(weight, device, requires_grad=True)]
    theirs_leaves = [torch_tensor(weight, requires_grad=True)]
    if with_sample_weights:
        ours_leaves.append(tensor(sample_weights, device, requires_grad=True))
        theirs_leaves.append(torch_tensor(sample_weights, requires_grad=True))
    offsets = spec["offsets"]
    ours = F.embedding_bag(tensor(spec["input"], device), ours_leaves[0],
                           None if offsets is None else tensor(offsets, device), mode=mode,
                           per_sample_weights=ours_leaves[1] if with_sample_weights else None,
                           include_last_offset=spec["include_last_offset"], padding_idx=padding_idx)
    theirs = torch.nn.functional.embedding_bag(
        torch.tensor(spec["input"]), theirs_leaves[0], None if offsets is None else torch.tensor(offsets), mode=mode,
        per_sample_weights=theirs_leaves[1] if with_sample_weights else None,
        include_last_offset=spec["include_last_offset"], padding_idx=padding_idx)
    return ours, theirs, ours_leaves, theirs_leaves


def _compare_with_gradients(ours, theirs, ours_leaves, theirs_leaves, rtol, atol):
    """Values, then the gradient of each leaf under the same random upstream gradient."""
    assert_close(ours, theirs, rtol=rtol, atol=atol, what="values")
    upstream = np.random.default_rng(1).standard_normal(theirs.shape).astype(ours.dtype)
    (ours * tensor(upstream, ours.device)).sum().backward()
    (theirs * torch_tensor(upstream)).sum().backward()
    for i, (mine, reference) in enumerate(zip(ours_leaves, theirs_leaves)):
        assert_close(mine.grad, reference.grad, rtol=rtol, atol=atol, what=f"gradient of leaf {i}")


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 3, -4])
def test_embedding_bag_matches_pytorch_values_and_weight_gradient(device, layout, mode, padding_idx):
    ours, theirs, ours_leaves, theirs_leaves = _both_embedding_bags(device, layout, mode, padding_idx)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == np.float64
    _compare_with_gradients(ours, theirs, ours_leaves, theirs_leaves, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_bag_per_sample_weights_match_pytorch(device, layout, padding_idx):
    ours, theirs, ours_leaves, theirs_leaves = _both_embedding_bags(device, layout, "sum", padding_idx,
                                                                    with_sample_weights=True)
    _compare_with_gradients(ours, theirs, ours_leaves, theirs_leaves, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_float32_matches_pytorch(device, mode):
    ours, theirs, ours_leaves, theirs_leaves = _both_embedding_bags(device, "offsets", mode, 3, dtype=np.float32,
                                                                    with_sample_weights=mode == "sum")
    assert ours.dtype == np.float32
    _compare_with_gradients(ours, theirs, ours_leaves, theirs_leaves, rtol=1e-5, atol=1e-6)


def test_embedding_bag_empty_and_all_padding_bags_give_zeros():
    weight = tg.Tensor(np.random.default_rng(0).standard_normal((5, 3)), requires_grad=True)
    for mode in ("sum", "mean", "max"):
        out = F.embedding_bag(tg.tensor([2, 2, 1]), weight, tg.tensor([0, 0, 2]), mode=mode, padding_idx=2)
        assert_close(out[:2], np.zeros((2, 3)), rtol=0, atol=0)        # empty, then only padding
        assert_close(out[2], weight.numpy()[1], rtol=0, atol=0)
    out = F.embedding_bag(tg.tensor([2, 2]), weight, tg.tensor([0, 1]), mode="max", padding_idx=2)
    assert_close(out, np.zeros((2, 3)), rtol=0, atol=0)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_gradcheck(mode):
    rng = np.random.default_rng(2)
    weight = tg.Tensor(rng.standard_normal((7, 4)), requires_grad=True)
    indices, offsets = tg.tensor(INDICES), tg.tensor(OFFSETS)
    if mode == "sum":
        sample_weights = tg.Tensor(rng.standard_normal(len(INDICES)), requires_grad=True)
        assert gradcheck(lambda w, s: F.embedding_bag(indices, w, offsets, mode="sum", per_sample_weights=s,
                                                      padding_idx=3), [weight, sample_weights])
    else:
        assert gradcheck(lambda w: F.embedding_bag(indices, w, offsets, mode=mode, padding_idx=3), [weight])


def test_embedding_bag_module_is_pytorchs_text_classifier_layer():
    """The text-classification tutorial's model: EmbeddingBag(vocab, dim) then Linear, called as (text, offsets)."""
    torch = import_torch()
    theirs_bag, theirs_fc = torch.nn.EmbeddingBag(20, 6, sparse=False).double(), torch.nn.Linear(6, 3).double()
    ours_bag, ours_fc = nn.EmbeddingBag(20, 6, sparse=False, dtype=tg.float64), nn.Linear(6, 3, dtype=tg.float64)
    assert list(ours_bag.state_dict()) == list(theirs_bag.state_dict()) == ["weight"]
    assert repr(ours_bag) == repr(theirs_bag) == "EmbeddingBag(20, 6, mode='mean')"
    ours_bag.load_state_dict({k: v.numpy() for k, v in theirs_bag.state_dict().items()})
    ours_fc.load_state_dict({k: v.numpy() for k, v in theirs_fc.state_dict().items()})
    text, offsets = np.array([4, 7, 19, 0, 3, 3, 12, 5]), np.array([0, 3, 4])
    ours = ours_fc(ours_bag(tg.tensor(text), tg.tensor(offsets)))
    theirs = theirs_fc(theirs_bag(torch.tensor(text), torch.tensor(offsets)))
    assert_close(ours, theirs, what="logits")
    ours.sum().backward()
    theirs.sum().backward()
    assert_close(ours_bag.weight.grad, theirs_bag.weight.grad, what="embedding gradient")
    assert_close(ours_fc.weight.grad, theirs_fc.weight.grad, what="linear gradient")


def test_embedding_bag_module_init_and_padding_row():
    tg.manual_seed(0)
    bag = nn.EmbeddingBag(2000, 50, mode="max", padding_idx=-1)
    weights = bag.weight.numpy()
    assert bag.padding_idx == 1999 and (weights[1999] == 0).all()
    assert abs(weights.mean()) < 0.01 and abs(weights.std() - 1) < 0.01            # N(0, 1), as PyTorch's
    assert repr(bag) == "EmbeddingBag(2000, 50, mode='max', padding_idx=1999)"
    bag(tg.tensor([[1999, 3]])).sum().backward()
    assert (bag.weight.grad.numpy()[1999] == 0).all() and bag.weight.grad.numpy()[3].sum() != 0
    frozen = nn.EmbeddingBag.from_pretrained(tg.ones(3, 2), mode="sum")
    assert not frozen.weight.requires_grad
    assert_close(frozen(tg.tensor([0, 1, 2]), tg.tensor([0, 1])), np.array([[1.0, 1], [2, 2]]))


@pytest.mark.parametrize("call, error, match", [
    (lambda w: F.embedding_bag(tg.tensor([1, 2]), w, tg.tensor([0]), mode="median"), ValueError, "'median'"),
    (lambda w: F.embedding_bag(tg.tensor([1, 2]), w, tg.tensor([0]), mode="mean", per_sample_weights=tg.ones(2)),
     NotImplementedError, "mode='mean'"),
    (lambda w: F.embedding_bag(tg.tensor([1, 2]), w, tg.tensor([0]), mode="sum", per_sample_weights=tg.ones(3)),
     ValueError, r"\(3,\).*\(2,\)"),
    (lambda w: F.embedding_bag(tg.tensor([[1, 2]]), w, tg.tensor([0])), ValueError, "offsets has to be None"),
    (lambda w: F.embedding_bag(tg.tensor([1, 2]), w), ValueError, "offsets has to be a 1D Tensor"),
    (lambda w: F.embedding_bag(tg.tensor([[[1]]]), w), ValueError, r"\(1, 1, 1\)"),
    (lambda w: F.embedding_bag(tg.tensor([1, 2]), w, tg.tensor([1])), ValueError, r"offsets\[0\] has to be 0.*1"),
    (lambda w: F.embedding_bag(tg.tensor([1, 2]), w, tg.tensor([0, 3])), ValueError, r"\[0, 3\]"),
    (lambda w: F.embedding_bag(tg.tensor([1, 9]), w, tg.tensor([0])), IndexError, "9"),
    (lambda w: F.embedding_bag(tg.tensor([1, 2]), w, tg.tensor([0]), padding_idx=5), ValueError, "5"),
    (lambda w: F.embedding_bag(tg.tensor([1, 2]), w, tg.tensor([0]), max_norm=1.0), NotImplementedError, "max_norm"),
    (lambda w: nn.EmbeddingBag(5, 2, sparse=True), NotImplementedError, "sparse"),
    (lambda w: nn.EmbeddingBag(5, 2, padding_idx=5), ValueError, "padding_idx"),
])
def test_embedding_bag_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(tg.ones(5, 2))


# ---------------------------------------------------------------------------------------------------------------
# affine_grid and grid_sample
# ---------------------------------------------------------------------------------------------------------------
PADDING_MODES = ["zeros", "border", "reflection"]


def _random_points(rng, shape, dtype=np.float64):
    """Normalized points inside and outside the image ([-1.6, 1.6]); a random point is almost surely not on a
    pixel's exact coordinate, where the bilinear weights (and so the grid's gradient) have a kink."""
    return rng.uniform(-1.6, 1.6, shape).astype(dtype)


def _compare_grid_sample(device, mode, padding_mode, align_corners, dtype, rtol, atol):
    torch = import_torch()
    rng = np.random.default_rng(3)
    image, points = rng.standard_normal((2, 3, 4, 5)).astype(dtype), _random_points(rng, (2, 3, 6, 2), dtype)
    ours_leaves = [tensor(image, device, requires_grad=True), tensor(points, device, requires_grad=True)]
    theirs_leaves = [torch_tensor(image, requires_grad=True), torch_tensor(points, requires_grad=True)]
    ours = F.grid_sample(*ours_leaves, mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    theirs = torch.nn.functional.grid_sample(*theirs_leaves, mode=mode, padding_mode=padding_mode,
                                             align_corners=align_corners)
    assert ours.shape == (2, 3, 3, 6) and ours.dtype == dtype
    if mode == "bilinear":
        _compare_with_gradients(ours, theirs, ours_leaves, theirs_leaves, rtol, atol)
    else:  # PyTorch's grid gradient is 0 here; ours is None (README: a difference worth knowing)
        _compare_with_gradients(ours, theirs, ours_leaves[:1], theirs_leaves[:1], rtol, atol)
        assert ours_leaves[1].grad is None and (theirs_leaves[1].grad == 0).all()


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_matches_pytorch_float64(device, mode, padding_mode, align_corners):
    _compare_grid_sample(device, mode, padding_mode, align_corners, np.float64, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_matches_pytorch_float32(device, padding_mode, align_corners):
    _compare_grid_sample(device, "bilinear", padding_mode, align_corners, np.float32, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_values_on_exact_pixel_coordinates(mode, padding_mode, align_corners):
    """Corners, edges, pixel centres and half-way points, inside and beyond the image: values only (the gradient
    with respect to the grid is undefined on them)."""
    torch = import_torch()
    H, W = 3, 4
    # Multiples of 1/8, so that pixel coordinates are exact and the ties of "nearest" (x = -0.5, 0, 0.5 for W = 4,
    # align_corners=False: half-way between two pixels) are real ties, rounded half to even as in PyTorch.
    coords = np.array([-1.5, -1.0, -0.75, -0.5, -0.375, 0.0, 0.25, 0.5, 0.625, 1.0, 1.25, 2.0])
    xs, ys = np.meshgrid(coords, coords)
    points = np.stack([xs, ys], axis=-1)[None]
    image = np.random.default_rng(4).standard_normal((1, 2, H, W))
    ours = F.grid_sample(tg.Tensor(image), tg.Tensor(points), mode, padding_mode, align_corners)
    theirs = torch.nn.functional.grid_sample(torch.tensor(image), torch.tensor(points), mode, padding_mode,
                                             align_corners)
    assert_close(ours, theirs, rtol=1e-8, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Since version 1.3.0")   # PyTorch's note on unit-size grids
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 1, 3), (2, 1, 4, 1)])
def test_affine_grid_matches_pytorch(device, align_corners, size):
    torch = import_torch()
    theta = np.random.default_rng(5).standard_normal((2, 2, 3))
    ours_theta, theirs_theta = tensor(theta, device, requires_grad=True), torch_tensor(theta, requires_grad=True)
    ours = F.affine_grid(ours_theta, size, align_corners)
    theirs = torch.nn.functional.affine_grid(theirs_theta, size, align_corners)
    assert ours.shape == (size[0], size[2], size[3], 2)
    _compare_with_gradients(ours, theirs, [ours_theta], [theirs_theta], rtol=1e-8, atol=1e-12)
    ours32 = F.affine_grid(tensor(theta.astype(np.float32), device), size, align_corners)
    assert ours32.dtype == np.float32
    assert_close(ours32, torch.nn.functional.affine_grid(torch_tensor(theta.astype(np.float32)), size, align_corners),
                 rtol=1e-5, atol=1e-6)


def test_identity_theta_samples_each_pixel_where_it_is():
    image = tg.Tensor(np.random.default_rng(6).standard_normal((1, 2, 3, 4)))
    identity = tg.tensor([[[1.0, 0, 0], [0, 1, 0]]], dtype=tg.float64)
    for align_corners in (False, True):
        grid = F.affine_grid(identity, image.size(), align_corners=align_corners)
        assert_close(F.grid_sample(image, grid, align_corners=align_corners), image, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
def test_spatial_transformer_step_matches_pytorch(padding_mode):
    """The tutorial's stn(): grid = affine_grid(theta, x.size()); x = grid_sample(x, grid), with the gradient of
    both theta and the image (the default align_corners, which warns in both libraries)."""
    torch = import_torch()
    rng = np.random.default_rng(7)
    image = rng.standard_normal((2, 3, 5, 6))
    theta = np.array([[[1.1, 0.2, 0.1], [-0.15, 0.9, -0.2]], [[0.7, -0.4, 0.3], [0.35, 1.2, 0.05]]])
    ours_leaves = [tg.Tensor(image, requires_grad=True), tg.Tensor(theta, requires_grad=True)]
    theirs_leaves = [torch_tensor(image, requires_grad=True), torch_tensor(theta, requires_grad=True)]
    with pytest.warns(UserWarning, match="align_corners"):
        ours = F.grid_sample(ours_leaves[0], F.affine_grid(ours_leaves[1], ours_leaves[0].size()),
                             padding_mode=padding_mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.functional.grid_sample(
            theirs_leaves[0], torch.nn.functional.affine_grid(theirs_leaves[1], theirs_leaves[0].size()),
            padding_mode=padding_mode)
    _compare_with_gradients(ours, theirs, ours_leaves, theirs_leaves, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_gradcheck(padding_mode, align_corners):
    rng = np.random.default_rng(8)
    image = tg.Tensor(rng.standard_normal((1, 2, 3, 4)), requires_grad=True)
    points = tg.Tensor(_random_points(rng, (1, 2, 3, 2)), requires_grad=True)
    assert gradcheck(lambda x, g: F.grid_sample(x, g, "bilinear", padding_mode, align_corners), [image, points])
    assert gradcheck(lambda x: F.grid_sample(x, points, "nearest", padding_mode, align_corners), [image])


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_gradcheck(align_corners):
    theta = tg.Tensor(np.random.default_rng(9).standard_normal((2, 2, 3)), requires_grad=True)
    assert gradcheck(lambda t: F.affine_grid(t, (2, 1, 3, 4), align_corners), [theta])


IMAGE, GRID = tg.zeros(2, 1, 3, 4, dtype=tg.float64), tg.zeros(2, 3, 3, 2, dtype=tg.float64)


@pytest.mark.parametrize("call, error, match", [
    (lambda: F.grid_sample(IMAGE, GRID, mode="linear", align_corners=False), ValueError, "'linear'"),
    (lambda: F.grid_sample(IMAGE, GRID, mode="bicubic", align_corners=False), NotImplementedError, "bicubic"),
    (lambda: F.grid_sample(IMAGE, GRID, padding_mode="reflect", align_corners=False), ValueError, "'reflect'"),
    (lambda: F.grid_sample(tg.zeros(2, 1, 3, 4, 5), tg.zeros(2, 3, 3, 3, 3), align_corners=False),
     NotImplementedError, "5-D"),
    (lambda: F.grid_sample(IMAGE, GRID[:1], align_corners=False), ValueError, r"\(1, 3, 3, 2\)"),
    (lambda: F.grid_sample(IMAGE, tg.zeros(2, 3, 3, 3, dtype=tg.float64), align_corners=False), ValueError,
     r"\(2, 3, 3, 3\)"),
    (lambda: F.grid_sample(IMAGE, GRID.float(), align_corners=False), ValueError, "float32"),
    (lambda: F.affine_grid(tg.zeros(2, 2, 3), (3, 1, 4, 4), align_corners=False), ValueError, r"\(2, 2, 3\)"),
    (lambda: F.affine_grid(tg.zeros(2, 2, 3), (2, 1, 0, 4), align_corners=False), ValueError, "positive"),
    (lambda: F.affine_grid(tg.zeros(2, 2, 3, dtype=tg.int64), (2, 1, 4, 4), align_corners=False), ValueError,
     "int64"),
    (lambda: F.affine_grid(tg.zeros(2, 3, 4), (2, 1, 2, 4, 4), align_corners=False), NotImplementedError, "3-D"),
    (lambda: F.affine_grid(tg.zeros(2, 2, 3), (2, 4, 4), align_corners=False), ValueError, r"\(2, 4, 4\)"),
])
def test_grid_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
