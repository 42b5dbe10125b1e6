"""ParameterList/ParameterDict, RMSNorm, PReLU and the other composed activations, Dropout1d, ChannelShuffle and
adaptive max pooling, each checked against PyTorch on the same inputs (float64 unless a test says otherwise).

The activations' values and smooth gradients are rows of tests/test_compat.py's CASES (gradchecked there); this file
holds what a table row cannot say: gradients at the kinks, extreme inputs, modules with parameters, containers,
randomness and errors.
"""
import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
import tinygrad_bn.nn.functional as F
from tinygrad_bn import gradcheck
from conftest import assert_close, import_torch, tensor, torch_tensor


# ---------------------------------------------------------------------------------------------------------------
# ParameterList and ParameterDict
# ---------------------------------------------------------------------------------------------------------------
class _WithContainers:
    """The same model in either library: a ParameterList and a ParameterDict beside a Linear."""

    @staticmethod
    def build(lib):
        model = lib.nn.Module()
        model.scales = lib.nn.ParameterList([lib.nn.Parameter(lib.ones(3)), lib.zeros(2, 4)])
        model.scales.append(lib.nn.Parameter(lib.full((5,), 2.0)))
        model.biases = lib.nn.ParameterDict({"encoder": lib.nn.Parameter(lib.zeros(4))})
        model.biases["decoder"] = lib.ones(3)
        model.head = lib.nn.Linear(3, 2)
        return model


def test_parameter_containers_register_parameters_with_pytorchs_state_dict_keys():
    torch = import_torch()
    ours, theirs = _WithContainers.build(tg), _WithContainers.build(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == [
        "scales.0", "scales.1", "scales.2", "biases.encoder", "biases.decoder", "head.weight", "head.bias"]
    assert [name for name, _ in ours.named_parameters()] == [name for name, _ in theirs.named_parameters()]
    assert all(isinstance(p, nn.Parameter) for p in ours.scales)  # the plain Tensor was made a Parameter
    assert isinstance(ours.biases["decoder"], nn.Parameter)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert_close(ours.scales[2], theirs.scales[2].detach(), rtol=0, atol=0)
    assert len(list(ours.parameters())) == 7


def test_parameter_list_behaves_like_a_list():
    a, b, c = nn.Parameter(tg.zeros(2)), nn.Parameter(tg.ones(3)), nn.Parameter(tg.ones(1))
    params = nn.ParameterList([a])
    params.extend([b])
    params += [c]
    assert len(params) == 3 and list(params) == [a, b, c]
    assert params[0] is a and params[-1] is c and list(params[1:]) == [b, c]
    replacement = nn.Parameter(tg.full((2,), 5.0))
    params[0] = replacement
    assert params[0] is replacement and list(params.state_dict()) == ["0", "1", "2"]
    with pytest.raises(IndexError, match="3"):
        params[3]
    params.append("not a tensor")  # kept, as in PyTorch, but not a parameter
    assert params[3] == "not a tensor" and len(list(params.parameters())) == 3
    loss = sum((p * p).sum() for p in params.parameters())
    loss.backward()
    assert_close(params[1].grad, np.full(3, 2.0))


def test_parameter_list_repr_is_pytorchs_with_library_dtype_names():
    torch = import_torch()
    ours = nn.ParameterList([nn.Parameter(tg.zeros(3, 4)), tg.ones(5, dtype=tg.float64), 3])
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(3, 4)), torch.ones(5, dtype=torch.float64), 3])
    assert repr(ours) == repr(theirs).replace("torch.", "")
    assert repr(nn.ParameterList()) == repr(torch.nn.ParameterList()) == "ParameterList()"
    one = repr(torch.nn.ParameterList([torch.zeros(3)])).replace("torch.", "")  # one line: Module's repr rule
    assert repr(nn.ParameterList([tg.zeros(3)])) == one == "ParameterList(  (0): Parameter containing: [float32 of size 3])"


def test_parameter_dict_behaves_like_a_dict():
    torch = import_torch()
    ours = nn.ParameterDict({"w": nn.Parameter(tg.zeros(3))})
    ours.update([("b", tg.ones(2))])
    assert list(ours) == ours.keys() == ["w", "b"] and len(ours) == 2 and "b" in ours and "x" not in ours
    assert [k for k, _ in ours.items()] == ["w", "b"] and ours.values()[1] is ours["b"]
    assert ours.get("x") is None and ours.get("w") is ours["w"]
    popped = ours.pop("w")
    assert popped.shape == (3,) and list(ours.state_dict()) == ["b"]
    del ours["b"]
    assert len(ours) == 0 and list(ours.parameters()) == []
    with pytest.raises(KeyError):
        ours["b"]
    with pytest.raises(KeyError, match="dot|\\."):
        ours["a.b"] = tg.zeros(1)
    assert "a.b" not in ours
    ours.update({"z": tg.zeros(1)})
    ours.clear()
    assert len(ours) == 0
    # PyTorch prints a ParameterDict's dtypes as legacy type names (torch.FloatTensor), which this library has not
    # (README: Not supported); the layout is PyTorch's.
    both = nn.ParameterDict({"a": nn.Parameter(tg.zeros(3)), "b": tg.ones(2, 2)})
    assert repr(both) == ("ParameterDict(\n    (a): Parameter containing: [float32 of size 3]\n"
                          "    (b): Parameter containing: [float32 of size 2x2]\n)")
    theirs = torch.nn.ParameterDict({"a": torch.nn.Parameter(torch.zeros(3)), "b": torch.ones(2, 2)})
    assert repr(both) == repr(theirs).replace("torch.FloatTensor", "float32")


def test_parameter_containers_move_with_to_and_feed_optimizers():
    model = nn.Module()
    model.weights = nn.ParameterList([tg.ones(2), tg.ones(3)])
    model.to(tg.float64)
    assert all(p.dtype == np.float64 for p in model.weights)
    optimizer = tg.optim.SGD(model.parameters(), lr=0.5)
    (model.weights[0].sum() + 2 * model.weights[1].sum()).backward()
    optimizer.step()
    assert model.weights[0].tolist() == [0.5, 0.5] and model.weights[1].tolist() == [0.0, 0.0, 0.0]


# ---------------------------------------------------------------------------------------------------------------
# RMSNorm
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, kwargs", [((4,), {}), (([3, 4],), {"eps": 1e-5}), ((4,), {"elementwise_affine": False})],
                         ids=["default", "2d-eps", "no-affine"])
def test_rms_norm_module_matches_torch(args, kwargs):
    torch = import_torch()
    theirs, ours = torch.nn.RMSNorm(*args, **kwargs).double(), nn.RMSNorm(*args, **kwargs).double()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert (ours.weight is None) == (theirs.weight is None)
    for p in theirs.parameters():
        p.data.normal_()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    a = np.random.default_rng(3).standard_normal((2, 3, 4))
    x, t = tg.Tensor(a, requires_grad=True), torch_tensor(a, requires_grad=True)
    assert_close(ours(x), theirs(t), rtol=1e-10, atol=1e-12)
    ours(x).pow(3).sum().backward()
    theirs(t).pow(3).sum().backward()
    assert_close(x.grad, t.grad, rtol=1e-9, atol=1e-11)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad, q.grad, rtol=1e-9, atol=1e-11, what=name)


def test_rms_norm_default_eps_is_the_dtypes_machine_epsilon_like_torch():
    torch = import_torch()
    # tiny inputs, where eps is not negligible against mean(x^2): float32's eps (1.2e-7) differs from float64's
    a = np.random.default_rng(4).standard_normal((3, 4)) * 3e-4
    for dtype in (np.float32, np.float64):
        ours = F.rms_norm(tg.Tensor(a.astype(dtype)), (4,))
        theirs = torch.nn.functional.rms_norm(torch_tensor(a.astype(dtype)), (4,))
        assert ours.dtype == dtype
        assert_close(ours, theirs, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=0)
    assert gradcheck(lambda x, w: F.rms_norm(x, (4,), w), [tg.Tensor(a * 1e3, requires_grad=True),
                                                           tg.Tensor(np.arange(1.0, 5.0), requires_grad=True)])


def test_rms_norm_shape_error_names_the_shapes():
    with pytest.raises(ValueError, match=r"\(4,\).*\(2, 3\)"):
        F.rms_norm(tg.zeros(2, 3), (4,))


# ---------------------------------------------------------------------------------------------------------------
# PReLU, and every new activation's gradient at its kinks
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("num_parameters, shape", [(1, (2, 3, 4)), (3, (2, 3, 4)), (3, (5, 3)), (1, (6,))])
def test_prelu_module_matches_torch_with_weight_gradients(num_parameters, shape):
    torch = import_torch()
    theirs, ours = torch.nn.PReLU(num_parameters, init=0.1).double(), nn.PReLU(num_parameters, init=0.1).double()
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == ["weight"]
    assert_close(ours.weight, theirs.weight.detach(), rtol=0, atol=0)
    theirs.weight.data.normal_()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    a = np.random.default_rng(5).standard_normal(shape)
    a[0] = 0.0  # the kink: PyTorch takes the negative piece's slope there
    x, t = tg.Tensor(a, requires_grad=True), torch_tensor(a, requires_grad=True)
    assert_close(ours(x), theirs(t), rtol=1e-12, atol=0)
    g = np.random.default_rng(6).standard_normal(shape)
    ours(x).backward(tg.Tensor(g))
    theirs(t).backward(torch_tensor(g))
    assert_close(x.grad, t.grad, rtol=1e-12, atol=0)
    assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-10, atol=1e-12)


def test_prelu_refuses_what_torch_refuses():
    with pytest.raises(ValueError, match="2 parameters.*3 channels"):
        F.prelu(tg.zeros(2, 3), tg.ones(2))
    with pytest.raises(RuntimeError, match="float64.*float32"):
        nn.PReLU()(tg.zeros(2, 3, dtype=tg.float64))


KINKS = {  # name -> (function of (lib, x), the points where its pieces meet, or where a composition could go wrong)
    "prelu": (lambda lib, x: lib.nn.functional.prelu(x, lib.tensor([0.25], dtype=x.dtype)), [0.0]),
    "selu": (lambda lib, x: lib.nn.functional.selu(x), [0.0]),
    "celu": (lambda lib, x: lib.nn.functional.celu(x, 0.5), [0.0]),
    "mish": (lambda lib, x: lib.nn.functional.mish(x), [0.0, 20.0, 21.0]),
    "logsigmoid": (lambda lib, x: lib.nn.functional.logsigmoid(x), [0.0, -20.0, -21.0, 20.0]),
    "softsign": (lambda lib, x: lib.nn.functional.softsign(x), [0.0]),
    "tanhshrink": (lambda lib, x: lib.nn.functional.tanhshrink(x), [0.0]),
    "threshold": (lambda lib, x: lib.nn.functional.threshold(x, 0.5, -2.0), [0.5]),
    "hardshrink": (lambda lib, x: lib.nn.functional.hardshrink(x, 0.5), [-0.5, 0.5, 0.0]),
    "hardshrink-negative-lambd": (lambda lib, x: lib.nn.functional.hardshrink(x, -1.0), [-1.0, 1.0, 0.0]),
    "softshrink": (lambda lib, x: lib.nn.functional.softshrink(x, 0.5), [-0.5, 0.5, 0.0]),
    "glu": (lambda lib, x: lib.nn.functional.glu(x.reshape(-1, 2)), [0.0]),
}


@pytest.mark.parametrize("name", list(KINKS))
def test_gradient_at_kinks_is_pytorchs(name):
    torch = import_torch()
    fn, points = KINKS[name]
    a = np.array(points + [-1.0, 1.0, -0.25, 0.75] + ([0.0] if len(points) % 2 else []))
    x, t = tg.Tensor(a, requires_grad=True), torch_tensor(a, requires_grad=True)
    assert_close(fn(tg, x), fn(torch, t), rtol=1e-12, atol=1e-15)
    fn(tg, x).sum().backward()
    fn(torch, t).sum().backward()
    assert_close(x.grad, t.grad, rtol=1e-12, atol=1e-15)


def test_logsigmoid_and_mish_are_finite_and_exact_for_large_inputs():
    torch = import_torch()
    a = np.array([-1000.0, -40.0, 40.0, 1000.0, -745.0, 36.0])
    for fn in (lambda lib, x: lib.nn.functional.logsigmoid(x), lambda lib, x: lib.nn.functional.mish(x)):
        x, t = tg.Tensor(a, requires_grad=True), torch_tensor(a, requires_grad=True)
        out = fn(tg, x)
        assert np.isfinite(out.numpy()).all()
        assert_close(out, fn(torch, t), rtol=1e-14, atol=0)  # logsigmoid(40) = -4.2e-18: relative, not absolute
        out.sum().backward()
        fn(torch, t).sum().backward()
        assert_close(x.grad, t.grad, rtol=1e-14, atol=1e-300)  # mish'(-745) underflows to a denormal in both


@pytest.mark.parametrize("name", ["selu", "celu", "mish", "logsigmoid", "softsign", "tanhshrink", "softshrink", "glu"])
def test_activations_in_float32_match_torch(name):
    torch = import_torch()
    fn, _ = KINKS[name]
    a = (np.random.default_rng(7).standard_normal(16) * 4).astype(np.float32)
    x, t = tg.Tensor(a, requires_grad=True), torch_tensor(a, requires_grad=True)
    out = fn(tg, x)
    assert out.dtype == np.float32
    assert_close(out, fn(torch, t), rtol=2e-6, atol=1e-7)
    out.sum().backward()
    fn(torch, t).sum().backward()
    assert x.grad.dtype == np.float32
    assert_close(x.grad, t.grad, rtol=2e-6, atol=1e-7)


def test_activation_errors_name_the_value():
    with pytest.raises(ValueError, match="dimension 1 .* size 5"):
        F.glu(tg.zeros(2, 5), 1)
    with pytest.raises(ValueError, match="0-dimensional"):
        F.glu(tg.tensor(1.0))
    with pytest.raises(ValueError, match="-1"):
        F.softshrink(tg.zeros(3), -1)
    with pytest.raises(ValueError, match="alpha cannot be 0"):
        F.celu(tg.zeros(3), 0.0)


@pytest.mark.filterwarnings("ignore:Implicit dimension choice for softmin")  # torch's, for nn.Softmin() below
def test_softmin_takes_dtype_and_the_implicit_dim_like_torch():
    torch = import_torch()
    a = np.random.default_rng(8).standard_normal((2, 3, 4)).astype(np.float32)
    for kwargs in ({"dim": 1, "dtype": np.float64}, {"dim": -1}):
        torch_kwargs = dict(kwargs, dtype=torch.float64) if "dtype" in kwargs else kwargs
        ours, theirs = F.softmin(tg.Tensor(a), **kwargs), torch.nn.functional.softmin(torch_tensor(a), **torch_kwargs)
        assert_close(ours, theirs, rtol=1e-6, atol=1e-7)
    assert F.softmin(tg.Tensor(a), 1, dtype=tg.float64).dtype == np.float64
    assert_close(nn.Softmin()(tg.Tensor(a)), torch.nn.Softmin()(torch_tensor(a)), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------------------------------------------
# Dropout1d and ChannelShuffle
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(8, 16, 5), (64, 7)])
def test_dropout1d_zeroes_whole_channels(shape, device):
    tg.manual_seed(0)
    layer = nn.Dropout1d(p=0.25)
    x = tensor(np.random.default_rng(9).uniform(1, 2, shape), device, requires_grad=True)
    out = layer(x)
    kept = out.numpy() != 0
    assert (kept == kept[..., :1]).all()                     # every position of a channel shares its fate
    assert_close(out.numpy()[kept], x.numpy()[kept] / 0.75)  # survivors scaled by 1/(1-p)
    assert 0.1 < 1 - kept.mean() < 0.4
    out.sum().backward()
    assert_close(x.grad, kept / 0.75)                         # dx = dy * mask / (1-p)
    layer.eval()
    assert layer(x) is x
    assert F.dropout1d(x, 1.0).numpy().max() == 0 and F.dropout1d(x, 0.0) is x


def test_dropout1d_repr_and_errors_like_torch():
    torch = import_torch()
    assert repr(nn.Dropout1d(0.3)) == repr(torch.nn.Dropout1d(0.3))
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 5\)"):
        F.dropout1d(tg.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match="1.5"):
        F.dropout1d(tg.zeros(2, 3), 1.5)


@pytest.mark.parametrize("shape, groups", [((2, 6, 3), 2), ((2, 6, 2, 2), 3), ((1, 8, 3), 8), ((3, 4, 1, 2, 2), 1)])
def test_channel_shuffle_matches_torch(shape, groups):
    torch = import_torch()
    a = np.arange(float(np.prod(shape))).reshape(shape)
    x, t = tg.Tensor(a, requires_grad=True), torch_tensor(a, requires_grad=True)
    out, expected = nn.ChannelShuffle(groups)(x), torch.nn.ChannelShuffle(groups)(t)
    assert_close(out, expected, rtol=0, atol=0)
    g = np.random.default_rng(10).standard_normal(shape)
    out.backward(tg.Tensor(g))
    expected.backward(torch_tensor(g))
    assert_close(x.grad, t.grad, rtol=0, atol=0)
    assert repr(nn.ChannelShuffle(groups)) == repr(torch.nn.ChannelShuffle(groups))
    assert gradcheck(lambda y: F.channel_shuffle(y, groups), [tg.Tensor(a, requires_grad=True)])


def test_channel_shuffle_errors():
    with pytest.raises(RuntimeError, match="5 channels and 2 groups"):
        F.channel_shuffle(tg.zeros(2, 5, 3), 2)
    with pytest.raises(RuntimeError, match=r"> 2 dims.*\(2, 4\)"):
        F.channel_shuffle(tg.zeros(2, 4), 2)
    with pytest.raises(ValueError, match="groups"):
        F.channel_shuffle(tg.zeros(2, 4, 3), 0)


# ---------------------------------------------------------------------------------------------------------------
# Adaptive max pooling
# ---------------------------------------------------------------------------------------------------------------
ADAPTIVE_MAX = [  # (module name, input shape, output_size)
    ("AdaptiveMaxPool2d", (2, 3, 7, 5), (3, 2)), ("AdaptiveMaxPool2d", (2, 3, 6, 6), 3),
    ("AdaptiveMaxPool2d", (1, 2, 4, 5), (6, 7)), ("AdaptiveMaxPool2d", (2, 3, 5, 4), (None, 3)),
    ("AdaptiveMaxPool2d", (3, 5, 4), 1), ("AdaptiveMaxPool1d", (2, 3, 10), 4), ("AdaptiveMaxPool1d", (3, 7), 3),
    ("AdaptiveMaxPool1d", (2, 2, 3), 5),
]


@pytest.mark.parametrize("name, shape, output_size", ADAPTIVE_MAX, ids=[f"{n}{s}->{o}" for n, s, o in ADAPTIVE_MAX])
def test_adaptive_max_pool_matches_torch(name, shape, output_size, device):
    torch = import_torch()
    rng = np.random.default_rng(11)
    a = rng.permutation(np.prod(shape)).reshape(shape) * 0.5 + rng.random(shape) * 0.1  # no ties
    x, t = tensor(a, device, requires_grad=True), torch_tensor(a, requires_grad=True)
    ours, theirs = getattr(nn, name)(output_size), getattr(torch.nn, name)(output_size)
    assert repr(ours) == repr(theirs)
    out, expected = ours(x), theirs(t)
    assert_close(out, expected, rtol=0, atol=0)
    g = rng.standard_normal(expected.shape)
    out.backward(tensor(g, device))
    expected.backward(torch_tensor(g))
    assert_close(x.grad, t.grad, rtol=1e-14, atol=0)  # overlapping windows add their gradients
    pool = getattr(F, "adaptive_max_pool2d" if name.endswith("2d") else "adaptive_max_pool1d")
    assert gradcheck(lambda y: pool(y, output_size), [tg.Tensor(a, requires_grad=True)])


def test_adaptive_max_pool_ties_send_the_gradient_to_the_first_maximum_like_torch():
    torch = import_torch()
    a = np.array([[[[1.0, 2.0, 2.0, 0.0], [2.0, 0.0, 1.0, 2.0], [0.0, 2.0, 2.0, 1.0]]]])
    for output_size in (1, (2, 2), (3, 3)):
        x, t = tg.Tensor(a, requires_grad=True), torch_tensor(a, requires_grad=True)
        F.adaptive_max_pool2d(x, output_size).sum().backward()
        torch.nn.functional.adaptive_max_pool2d(t, output_size).sum().backward()
        assert_close(x.grad, t.grad, rtol=0, atol=0, what=str(output_size))


def test_adaptive_max_pool_errors():
    with pytest.raises(NotImplementedError, match="return_indices"):
        nn.AdaptiveMaxPool2d(2, return_indices=True)(tg.zeros(1, 1, 4, 4))
    with pytest.raises(NotImplementedError, match="return_indices"):
        F.adaptive_max_pool1d(tg.zeros(1, 1, 4), 2, return_indices=True)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        F.adaptive_max_pool2d(tg.zeros(3), 2)
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 5\)"):
        F.adaptive_max_pool1d(tg.zeros(2, 3, 4, 5), 2)
    with pytest.raises(ValueError, match="-1"):
        F.adaptive_max_pool1d(tg.zeros(2, 3, 4), -1)
    with pytest.raises(ValueError, match="non-zero size"):
        F.adaptive_max_pool2d(tg.zeros(2, 3, 0, 4), 2)
    assert F.adaptive_max_pool2d(tg.zeros(2, 3, 5, 7), (0, 3)).shape == (2, 3, 0, 3)
