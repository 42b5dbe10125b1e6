"""A whole small CNN, twinned in PyTorch: forward, backward and five optimizer steps match, in float64.

The network is the project's architecture in miniature: conv3x3-BN-ReLU blocks and max pooling as listed in WIDTHS,
then global average pooling and a linear head, on 2x3x12x12 inputs. `make_net` builds it from either library's `nn`
(they share names), the torch weights are loaded into ours with `load_state_dict`, and from then on both must
compute the same numbers: every op, every gradient, the optimizer updates and the running statistics. A bug in any
single piece (a conv gradient, BN's backward, a pooling tie, an optimizer formula) shows up in these trajectories.
"""
import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
import tinygrad_bn.nn.functional as F
import tinygrad_bn.optim as optim
from conftest import assert_close, import_torch, tensor, torch_tensor

WIDTHS = (4, "M", 8)
INPUT_SHAPE = (2, 3, 12, 12)
STEPS = 5


def make_net(lib, widths=WIDTHS, num_classes=2):
    """`features` (conv3x3-BN-ReLU per number, MaxPool2d(2) per 'M') and `classifier` (GAP, Flatten, Linear)."""
    layers, channels = [], 3
    for width in widths:
        if width == "M":
            layers.append(lib.MaxPool2d(2))
            continue
        layers += [lib.Conv2d(channels, width, 3, padding=1, bias=False), lib.BatchNorm2d(width), lib.ReLU()]
        channels = width
    model = lib.Sequential()
    model.features = lib.Sequential(*layers)
    model.classifier = lib.Sequential(lib.AdaptiveAvgPool2d(1), lib.Flatten(), lib.Linear(channels, num_classes))
    return model


def twins(device, seed=0):
    """The torch model (float64, randomised BN affine parameters so they matter) and ours with its weights."""
    torch = import_torch()
    torch.manual_seed(seed)
    theirs = make_net(torch.nn).double()
    with torch.no_grad():
        for module in theirs.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
    ours = make_net(nn).double()
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    return ours.to(device), theirs


def batches(seed=1):
    """STEPS batches of images and labels (a fresh batch per step, so the running statistics see different data)."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(INPUT_SHAPE), rng.integers(0, 2, INPUT_SHAPE[0])) for _ in range(STEPS)]


def assert_same_state(ours, theirs, rtol, atol, what):
    """Parameters and buffers (running_mean, running_var, num_batches_tracked), key by key."""
    their_state = theirs.state_dict()
    assert list(ours.state_dict()) == list(their_state)
    for key, value in ours.state_dict().items():
        assert_close(value, their_state[key], rtol=rtol, atol=atol, what=f"{what}: {key}")


def test_state_dict_keys_match_the_twin():
    torch = import_torch()
    keys = list(make_net(nn).state_dict())
    assert keys == list(make_net(torch.nn).state_dict())
    assert keys[:6] == ["features.0.weight", "features.1.weight", "features.1.bias", "features.1.running_mean",
                        "features.1.running_var", "features.1.num_batches_tracked"]


def test_forward_backward_matches_torch(device):
    torch = import_torch()
    ours, theirs = twins(device)
    x, y = batches()[0]
    x_ours, x_theirs = tensor(x, device, requires_grad=True), torch_tensor(x, requires_grad=True)
    logits, expected = ours(x_ours), theirs(x_theirs)
    assert_close(logits, expected, rtol=1e-10, atol=1e-12, what="logits")
    loss = F.cross_entropy(logits, tensor(y, device))
    expected_loss = torch.nn.functional.cross_entropy(expected, torch.from_numpy(y))
    assert_close(loss, expected_loss, rtol=1e-12, atol=0, what="loss")
    loss.backward()
    expected_loss.backward()
    assert_close(x_ours.grad, x_theirs.grad, rtol=1e-8, atol=1e-12, what="grad of the input")
    their_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        assert_close(param.grad, their_params[name].grad, rtol=1e-8, atol=1e-12, what=f"grad of {name}")
    assert_same_state(ours, theirs, rtol=1e-12, atol=1e-14, what="after one training forward")
    # Eval: the running statistics normalise, and both libraries agree on them.
    ours.eval(), theirs.eval()
    assert_close(ours(tensor(x, device)), theirs(torch_tensor(x)), rtol=1e-10, atol=1e-12, what="eval logits")


OPTIMIZERS = {
    "SGD-nesterov": lambda lib, params: lib.SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4),
    "AdamW": lambda lib, params: lib.AdamW(params, lr=1e-2, weight_decay=1e-2),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_training_trajectory_matches_torch(name, device):
    """Five steps of train-mode forward, cross-entropy, backward, optimizer step: the loss of every step, then
    the final weights and running statistics, and the eval-mode logits, all equal to PyTorch's. The goal is 1e-6;
    the test asks for 1e-8 (relative) because float64 rounding alone leaves ~1e-13, and a subtly wrong formula
    (an eps in the wrong place, a bias correction off by one step) can hide between 1e-8 and 1e-6."""
    torch = import_torch()
    ours, theirs = twins(device)
    opt_ours = OPTIMIZERS[name](optim, ours.parameters())
    opt_theirs = OPTIMIZERS[name](torch.optim, theirs.parameters())
    losses_ours, losses_theirs = [], []
    for x, y in batches():
        opt_ours.zero_grad()
        loss = F.cross_entropy(ours(tensor(x, device)), tensor(y, device))
        loss.backward()
        opt_ours.step()
        losses_ours.append(loss.item())

        opt_theirs.zero_grad()
        expected = torch.nn.functional.cross_entropy(theirs(torch_tensor(x)), torch.from_numpy(y))
        expected.backward()
        opt_theirs.step()
        losses_theirs.append(expected.item())
    assert_close(np.array(losses_ours), np.array(losses_theirs), rtol=1e-8, atol=1e-10, what="loss at each step")
    assert len(set(losses_theirs)) == STEPS, "the steps must change the model"
    assert_same_state(ours, theirs, rtol=1e-8, atol=1e-10, what=f"after {STEPS} {name} steps")
    assert int(ours.state_dict()["features.1.num_batches_tracked"]) == STEPS
    ours.eval(), theirs.eval()
    x = batches(seed=2)[0][0]
    assert_close(ours(tensor(x, device)), theirs(torch_tensor(x)), rtol=1e-8, atol=1e-10, what="eval logits")


def test_project_model_loads_the_twin_and_matches_it():
    """models.CatsDogsNet with the same widths is this network: torch weights load into it and it agrees."""
    torch = import_torch()
    from models.catsdogs_net import CatsDogsNet

    ours, theirs = CatsDogsNet(widths=WIDTHS).double(), twins("cpu")[1]
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    x = batches()[0][0]
    assert_close(ours(tg.Tensor(x)), theirs(torch_tensor(x)), rtol=1e-10, atol=1e-12)
