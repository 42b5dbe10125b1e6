"""Bad arguments get an error that names the argument and its value, never a bare ZeroDivisionError or NumPy's words.

One table: each row is a call written once against a library `lib` (tinygrad_bn, or torch as the oracle), the error
tinygrad_bn raises with a fragment of its message, and what PyTorch 2.13 does with the same call: the same error
type, or None where PyTorch accepts the call or fails with its own ZeroDivisionError (tinygrad_bn then departs, on
purpose, with a clear error). Adding a case is one line.
"""
import pytest

import tinygrad_bn
import tinygrad_bn.utils.data  # noqa: F401  (lib.utils.data below)


def x4(lib):
    return lib.ones(1, 1, 4, 4)


def sgd(lib):
    return lib.optim.SGD([lib.zeros(1, requires_grad=True)], lr=0.1)


def dataset(lib):
    return lib.utils.data.TensorDataset(lib.ones(4))


CASES = [
    # pooling: a window count divides by the stride (which defaults to the kernel size)
    ("max_pool2d stride 0", lambda lib: lib.nn.functional.max_pool2d(x4(lib), 2, stride=0),
     RuntimeError, r"stride should be greater than zero, but got stride=\(0, 0\)", RuntimeError),
    ("max_pool2d kernel 0", lambda lib: lib.nn.functional.max_pool2d(x4(lib), 0),
     RuntimeError, r"kernel size should be greater than zero, but got kernel_size=\(0, 0\)", RuntimeError),
    ("MaxPool2d stride 0", lambda lib: lib.nn.MaxPool2d(2, stride=0)(x4(lib)),
     RuntimeError, "stride should be greater than zero", RuntimeError),
    ("max_pool2d padding -1", lambda lib: lib.nn.functional.max_pool2d(x4(lib), 2, padding=-1),
     RuntimeError, r"pad must be non-negative, but got padding=\(-1, -1\)", RuntimeError),
    ("max_pool2d dilation 0", lambda lib: lib.nn.functional.max_pool2d(x4(lib), 2, dilation=0),
     RuntimeError, "dilation should be greater than zero, but got dilation=0", RuntimeError),
    ("avg_pool2d stride 0", lambda lib: lib.nn.functional.avg_pool2d(x4(lib), 2, stride=0),
     RuntimeError, "stride should be greater than zero", RuntimeError),
    ("avg_pool2d kernel 0", lambda lib: lib.nn.functional.avg_pool2d(x4(lib), 0),
     RuntimeError, "kernel size should be greater than zero", RuntimeError),
    ("AvgPool2d stride 0", lambda lib: lib.nn.AvgPool2d(2, stride=0)(x4(lib)),
     RuntimeError, "stride should be greater than zero", RuntimeError),
    ("avg_pool2d padding -1", lambda lib: lib.nn.functional.avg_pool2d(x4(lib), 2, padding=-1),
     RuntimeError, "pad must be non-negative", RuntimeError),
    ("avg_pool2d kernel > input", lambda lib: lib.nn.functional.avg_pool2d(x4(lib), 5),
     ValueError, r"kernel \(5, 5\) does not fit in the input of shape \(1, 1, 4, 4\)", RuntimeError),
    ("adaptive_avg_pool2d -1", lambda lib: lib.nn.functional.adaptive_avg_pool2d(x4(lib), -1),
     RuntimeError, "output_size must be greater than or equal to 0 but received output_size=-1", RuntimeError),
    # convolution (ValueErrors that predate this table; PyTorch raises RuntimeError)
    ("conv2d stride 0", lambda lib: lib.nn.functional.conv2d(x4(lib), lib.ones(1, 1, 2, 2), stride=0),
     ValueError, r"stride=\(0, 0\)", RuntimeError),
    ("conv2d dilation 0", lambda lib: lib.nn.functional.conv2d(x4(lib), lib.ones(1, 1, 2, 2), dilation=0),
     ValueError, r"dilation=\(0, 0\)", RuntimeError),
    ("conv2d padding -1", lambda lib: lib.nn.functional.conv2d(x4(lib), lib.ones(1, 1, 2, 2), padding=-1),
     ValueError, r"padding=\(-1, -1\)", RuntimeError),
    ("conv2d kernel > input", lambda lib: lib.nn.functional.conv2d(x4(lib), lib.ones(1, 1, 5, 5)),
     ValueError, "kernel 5x5 .* is larger than the padded input 4x4", RuntimeError),
    ("Conv2d groups 0", lambda lib: lib.nn.Conv2d(1, 1, 2, groups=0), ValueError, "groups must be a positive",
     ValueError),
    ("Conv2d padding 'bogus'", lambda lib: lib.nn.Conv2d(1, 1, 2, padding="bogus"),
     ValueError, "Invalid padding string 'bogus'", ValueError),
    ("Conv2d 'same' stride 2", lambda lib: lib.nn.Conv2d(1, 1, 2, padding="same", stride=2),
     ValueError, r"not supported for strided convolutions, got stride=\(2, 2\)", ValueError),
    # resizing: the sampling scale is in / out
    ("interpolate size 0", lambda lib: lib.nn.functional.interpolate(x4(lib), size=0),
     RuntimeError, r"Input and output sizes should be greater than 0, .* output \(H: 0, W: 0\) from size 0",
     RuntimeError),
    ("interpolate scale_factor 0.1", lambda lib: lib.nn.functional.interpolate(x4(lib), scale_factor=0.1),
     RuntimeError, "output .H: 0, W: 0. from scale_factor 0.1", RuntimeError),
    ("Upsample scale_factor 0", lambda lib: lib.nn.Upsample(scale_factor=0)(x4(lib)),
     RuntimeError, "from scale_factor 0.0", ValueError),  # PyTorch reads 0 as "no scale_factor given"
    # layers
    ("Dropout p 1.5", lambda lib: lib.nn.Dropout(1.5), ValueError, "between 0 and 1, but got 1.5", ValueError),
    ("dropout p -0.1", lambda lib: lib.nn.functional.dropout(x4(lib), -0.1), ValueError, "but got -0.1", ValueError),
    ("Linear -1 features", lambda lib: lib.nn.Linear(3, -1),
     RuntimeError, r"negative dimension -1: \[-1, 3\]", RuntimeError),
    ("BatchNorm eps -1 training", lambda lib: lib.nn.BatchNorm2d(1, eps=-1)(lib.ones(2, 1, 2, 2)),
     ValueError, "batch_norm eps must be positive during training, but got -1", ValueError),
    ("batch_norm eps 0 training", lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3), None, None, training=True,
                                                                           eps=0),
     ValueError, "batch_norm eps must be positive during training, but got 0", ValueError),
    ("batch_norm eps -1 eval", lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3), lib.zeros(3), lib.ones(3),
                                                                        eps=-1),
     ValueError, "batch_norm eps must be non-negative, but got -1", ValueError),
    ("GroupNorm 0 groups", lambda lib: lib.nn.GroupNorm(0, 4),
     ValueError, "num_groups must be a positive integer, got 0", None),  # PyTorch: ZeroDivisionError
    ("GroupNorm 3 groups of 4", lambda lib: lib.nn.GroupNorm(3, 4), ValueError,
     r"num_channels \(4\) must be divisible by num_groups \(3\)", ValueError),
    ("Flatten of 1-D", lambda lib: lib.nn.Flatten()(lib.ones(3)), IndexError, "dim 1 is out of range", IndexError),
    ("flatten start after end", lambda lib: lib.ones(2, 3, 4).flatten(2, 1),
     RuntimeError, "start_dim cannot come after end_dim", RuntimeError),
    ("Unflatten dim 3", lambda lib: lib.nn.Unflatten(3, (2, 2))(lib.ones(2, 4)), IndexError, "dim 3 is out of range",
     IndexError),
    # tensors
    ("arange step 0", lambda lib: lib.arange(0, 1, 0), RuntimeError, "step must be nonzero", RuntimeError),
    ("arange wrong direction", lambda lib: lib.arange(0, 1, -1),
     RuntimeError, "upper bound and lower bound inconsistent with step sign: start=0, end=1, step=-1", RuntimeError),
    ("zeros -1", lambda lib: lib.zeros(2, -1), RuntimeError, r"negative dimension -1: \[2, -1\]", RuntimeError),
    ("split 0", lambda lib: lib.ones(6).split(0), RuntimeError, r"split_size=0 for dim 0 of shape \(6,\)",
     RuntimeError),
    ("split sizes [7, -1]", lambda lib: lib.ones(6).split([7, -1]), RuntimeError, r"split_sizes=\[7, -1\]",
     RuntimeError),
    ("chunk 0", lambda lib: lib.ones(6).chunk(0), RuntimeError, "`chunks` to be greater than 0, got: 0", RuntimeError),
    ("linspace steps -1", lambda lib: lib.linspace(0, 1, -1), RuntimeError, "non-negative, got steps=-1", RuntimeError),
    ("randint 5 to 2", lambda lib: lib.randint(5, 2, (3,)), RuntimeError, "but got from=5 >= to=2", RuntimeError),
    ("randint high 0", lambda lib: lib.randint(0, (3,)), RuntimeError, "but got from=0 >= to=0", RuntimeError),
    ("eye -1", lambda lib: lib.eye(-1), RuntimeError, "n must be greater or equal to 0, got -1", RuntimeError),
    ("repeat -1", lambda lib: lib.ones(2, 3).repeat(-1, 1), RuntimeError, r"non-negative, got \(-1, 1\)", RuntimeError),
    ("expand -2", lambda lib: lib.ones(1, 3).expand(-2, 3), ValueError, r"non-negative .* got \(-2, 3\)", RuntimeError),
    # devices
    ("device cpux", lambda lib: lib.device("cpux"), RuntimeError, "device type at start of device string: cpux",
     RuntimeError),
    ("device cuda:x", lambda lib: lib.device("cuda:x"), RuntimeError, "Invalid device string: 'cuda:x'", RuntimeError),
    ("device cuda:-1", lambda lib: lib.device("cuda:-1"), RuntimeError, "Invalid device string: 'cuda:-1'",
     RuntimeError),
    ("device cuda, -1", lambda lib: lib.device("cuda", -1), RuntimeError, "Device index must not be negative",
     RuntimeError),
    ("device mps", lambda lib: lib.device("mps"), RuntimeError, "unknown device 'mps'", None),  # PyTorch knows mps
    ("to mps", lambda lib: lib.zeros(1).to("mps"), RuntimeError, "unknown device 'mps'", RuntimeError),
    ("to cpux", lambda lib: lib.zeros(1).to("cpux"), RuntimeError, "start of device string: cpux", RuntimeError),
    ("zeros device gpu", lambda lib: lib.zeros(1, device="gpu"), RuntimeError, "unknown device 'gpu'", RuntimeError),
    ("Module.to mps", lambda lib: lib.nn.Linear(1, 1).to("mps"), RuntimeError, "unknown device 'mps'", RuntimeError),
    # optim.lr_scheduler: t // step_size, t / T_max, max_lr / div_factor
    ("StepLR step_size 0", lambda lib: lib.optim.lr_scheduler.StepLR(sgd(lib), step_size=0),
     ValueError, "step_size must be a positive integer, got 0", None),  # PyTorch: ZeroDivisionError at step()
    ("StepLR step_size -1", lambda lib: lib.optim.lr_scheduler.StepLR(sgd(lib), step_size=-1),
     ValueError, "step_size must be a positive integer, got -1", None),  # PyTorch: a growing lr
    ("CosineAnnealingLR T_max 0", lambda lib: lib.optim.lr_scheduler.CosineAnnealingLR(sgd(lib), T_max=0),
     ValueError, "T_max must be a positive number of steps, got 0", None),  # PyTorch: ZeroDivisionError at step()
    ("OneCycleLR total_steps 0", lambda lib: lib.optim.lr_scheduler.OneCycleLR(sgd(lib), 0.1, total_steps=0),
     ValueError, "Expected positive integer total_steps, but got 0", ValueError),
    ("OneCycleLR div_factor 0", lambda lib: lib.optim.lr_scheduler.OneCycleLR(sgd(lib), 0.1, 10, div_factor=0),
     ValueError, "div_factor must be positive, got 0", ZeroDivisionError),
    ("OneCycleLR final_div_factor 0",
     lambda lib: lib.optim.lr_scheduler.OneCycleLR(sgd(lib), 0.1, 10, final_div_factor=0),
     ValueError, "final_div_factor must be positive, got 0", ZeroDivisionError),
    ("OneCycleLR empty warmup", lambda lib: lib.optim.lr_scheduler.OneCycleLR(sgd(lib), 0.1, 10, pct_start=0.1),
     ValueError, "phase 1 of the schedule has zero steps", ZeroDivisionError),
    # utils.data
    ("DataLoader batch_size 0", lambda lib: lib.utils.data.DataLoader(dataset(lib), batch_size=0),
     ValueError, "batch_size should be a positive integer value, but got batch_size=0", ValueError),
    ("DataLoader batch_size -1", lambda lib: lib.utils.data.DataLoader(dataset(lib), batch_size=-1),
     ValueError, "but got batch_size=-1", ValueError),
    ("DataLoader batch_size 1.5", lambda lib: lib.utils.data.DataLoader(dataset(lib), batch_size=1.5),
     ValueError, "but got batch_size=1.5", ValueError),
    ("DataLoader num_workers -1", lambda lib: lib.utils.data.DataLoader(dataset(lib), num_workers=-1),
     ValueError, "num_workers option should be non-negative", ValueError),
    ("DataLoader timeout -1", lambda lib: lib.utils.data.DataLoader(dataset(lib), timeout=-1),
     ValueError, "timeout option should be non-negative", ValueError),
    ("random_split fraction 1.5", lambda lib: lib.utils.data.random_split(range(10), [1.5, -0.5]),
     ValueError, "Fraction at index 0 is not between 0 and 1", ValueError),
    ("random_split length -1", lambda lib: lib.utils.data.random_split(range(10), [11, -1]),
     ValueError, r"lengths must be non-negative, got \[11, -1\]", None),  # PyTorch returns overlapping splits
    ("random_split wrong sum", lambda lib: lib.utils.data.random_split(range(10), [3, 3]),
     ValueError, "Sum of input lengths does not equal", ValueError),
]


@pytest.mark.parametrize("call, error, words, torch_error", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_bad_argument_raises_a_clear_error(call, error, words, torch_error):
    with pytest.raises(error, match=words):
        call(tinygrad_bn)


@pytest.mark.parametrize("call, torch_error", [(case[1], case[4]) for case in CASES], ids=[case[0] for case in CASES])
def test_pytorch_does_what_the_table_says(call, torch_error):
    """The oracle: the last column is what PyTorch really does, so the table's claims of parity stay true."""
    torch = pytest.importorskip("torch")
    import torch.utils.data  # noqa: F401

    if torch_error is None:  # PyTorch accepts the call, or divides by zero: tinygrad_bn departs on purpose
        try:
            call(torch)
        except ZeroDivisionError:
            pass
        return
    with pytest.raises(torch_error):
        call(torch)


def test_zero_sizes_that_pytorch_accepts_work():
    """A size of 0 is not an error where PyTorch makes an empty result: no division by it on the way."""
    torch = pytest.importorskip("torch")
    with pytest.warns(UserWarning, match="zero-element"):  # PyTorch's warning, from kaiming_uniform_
        linear = tinygrad_bn.nn.Linear(0, 3)
    assert linear(tinygrad_bn.ones(2, 0)).numpy().tolist() == [[0.0] * 3] * 2  # the bias bound 1/sqrt(0) is 0
    with pytest.warns(UserWarning, match="zero-element"):
        tinygrad_bn.nn.Conv2d(0, 2, 3)
    x = tinygrad_bn.ones(2, 3, 4, 4, requires_grad=True)
    pooled = tinygrad_bn.nn.functional.adaptive_avg_pool2d(x, (0, 5))
    assert pooled.shape == tuple(torch.nn.functional.adaptive_avg_pool2d(torch.ones(2, 3, 4, 4), (0, 5)).shape)
    pooled.sum().backward()
    assert x.grad.shape == x.shape
    assert [t.shape for t in tinygrad_bn.zeros(0).split(0)] == [tuple(t.shape) for t in torch.zeros(0).split(0)]
    assert tinygrad_bn.arange(0, 0, -1).shape == tuple(torch.arange(0, 0, -1).shape) == (0,)
