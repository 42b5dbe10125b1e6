"""Port tests: each program in tests/ports/ (PyTorch code) runs with PyTorch and, with only its imports rewritten,
with tinygrad_bn; outputs, gradients and an optimizer step must agree on the same weights (see tests/ports/README.md).
"""
import re
import types
from pathlib import Path

import numpy as np
import pytest

import tinygrad_bn

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="module")
def torch_on_one_thread():
    """The ports are many tiny ops: PyTorch's threads then only fight each other (and a busy machine), so PyTorch
    runs them on one thread here, and gets its setting back afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

PORTS_DIR = Path(__file__).parent / "ports"
PORTS = sorted(path.stem for path in PORTS_DIR.glob("*.py"))
# float32: the 1e-4 relative; float64: both libraries then agree to far below that.
TOLERANCE = {np.float32: 1e-4, np.float64: 1e-9}
MAX_DIFFERENCES = {}  # (port, dtype) -> the largest relative difference seen, for the summary below


def rewrite_imports(source):
    """Point PyTorch's import lines at tinygrad_bn, and change nothing else.

    `import torch` -> `import tinygrad_bn as torch`; `import torch.nn as nn` -> `import tinygrad_bn.nn as nn`;
    `from torch.x import y` -> `from tinygrad_bn.x import y`.
    """
    lines = []
    for line in source.splitlines():
        if re.fullmatch(r"\s*import torch\s*", line):
            line = line.replace("import torch", "import tinygrad_bn as torch")
        elif re.match(r"\s*(import|from) torch\b", line):
            line = re.sub(r"\btorch\b", "tinygrad_bn", line, count=1)
        lines.append(line)
    return "\n".join(lines) + "\n"


def load_port(name, library):
    source = (PORTS_DIR / f"{name}.py").read_text()
    if library == "tinygrad_bn":
        source = rewrite_imports(source)
        assert "import torch" not in source.replace("import tinygrad_bn as torch", "")
    module = types.ModuleType(f"port_{name}_{library}")
    exec(compile(source, f"tests/ports/{name}.py ({library})", "exec"), module.__dict__)
    return module


def as_numpy(value):
    if isinstance(value, tinygrad_bn.Tensor):
        return value.numpy()
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def compare(port, dtype, what, ours, theirs, floor=0.0):
    """Relative agreement, measured against the size of the values: |ours - theirs| <= tol * max|theirs| elementwise
    (elements near zero can not be compared relatively in float32). `floor` is the least scale to measure against:
    a tensor whose true value is zero (the gradient of a conv bias followed by BN) holds only rounding noise."""
    ours, theirs = as_numpy(ours).astype(np.float64), as_numpy(theirs).astype(np.float64)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != {theirs.shape}"
    scale = max(np.abs(theirs).max(initial=0), floor, 1e-30)
    difference = np.abs(ours - theirs).max(initial=0) / scale
    key = (port, np.dtype(dtype).name)
    MAX_DIFFERENCES[key] = max(MAX_DIFFERENCES.get(key, 0), difference)
    assert difference <= TOLERANCE[dtype], f"{what}: relative difference {difference:.3g} > {TOLERANCE[dtype]}"


def twin_models(ours_port, torch_port, dtype):
    """The same model in both libraries: PyTorch's initial weights copied into tinygrad_bn's through state_dict."""
    torch.manual_seed(0)
    theirs = torch_port.build_model()
    tinygrad_bn.manual_seed(0)
    ours = ours_port.build_model()
    if dtype == np.float64:
        theirs, ours = theirs.double(), ours.double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for model in (ours, theirs):  # each library draws its own dropout masks: compare without them
        for module in model.modules():
            if type(module).__name__.startswith("Dropout"):
                module.p = 0.0
            elif isinstance(getattr(module, "dropout", None), float):  # RNN/LSTM/GRU between layers, attention
                module.dropout = 0.0
    return ours, theirs


def batch_in(dtype, port):
    batch = port.make_batch(np.random.default_rng(0))
    return tuple(a.astype(dtype) if a.dtype.kind == "f" else a for a in batch)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("port", PORTS)
def test_port_matches_torch(port, dtype):
    ours_port, torch_port = load_port(port, "tinygrad_bn"), load_port(port, "torch")
    ours, theirs = twin_models(ours_port, torch_port, dtype)
    batch = batch_in(dtype, torch_port)

    if hasattr(torch_port, "run_training"):  # a whole training loop: compare what it reports, then the weights
        ours_log, theirs_log = ours_port.run_training(ours, batch), torch_port.run_training(theirs, batch)
        compare(port, dtype, "training log (losses, test loss, accuracy)", ours_log, theirs_log)
    else:
        (ours_out, ours_loss), (theirs_out, theirs_loss) = (ours_port.compute_loss(ours, batch),
                                                            torch_port.compute_loss(theirs, batch))
        compare(port, dtype, "output", ours_out, theirs_out)
        compare(port, dtype, "loss", ours_loss, theirs_loss)
        ours_loss.backward()
        theirs_loss.backward()
        theirs_grads = dict(theirs.named_parameters())
        largest = max(float(q.grad.abs().max()) for q in theirs_grads.values())
        for name, p in ours.named_parameters():  # each against its own size, or 1e-3 of the largest gradient
            compare(port, dtype, f"gradient of {name}", p.grad, theirs_grads[name].grad, floor=1e-3 * largest)
        ours_port.make_optimizer(ours).step()
        torch_port.make_optimizer(theirs).step()
        ours.eval()
        theirs.eval()
        with tinygrad_bn.no_grad(), torch.no_grad():
            compare(port, dtype, "output in eval mode", ours_port.compute_loss(ours, batch)[0],
                    torch_port.compute_loss(theirs, batch)[0])

    theirs_state = theirs.state_dict()
    largest = max(float(v.abs().max()) for v in theirs_state.values() if v.dtype.is_floating_point)
    for name, value in ours.state_dict().items():  # parameters after the step(s), and the BN buffers
        compare(port, dtype, f"state {name}", value, theirs_state[name], floor=1e-3 * largest)
    # and back: tinygrad_bn's weights load into a fresh PyTorch model
    torch_copy = torch_port.build_model().to(theirs_state[next(iter(theirs_state))].dtype)
    torch_copy.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})


def test_rewrite_changes_only_import_lines():
    source = ("import torch\nimport torch.nn as nn\nfrom torch.utils.data import DataLoader\n"
              "from torch import nn, optim\nx = torch.flatten(y, 1)  # torch stays torch\n")
    assert rewrite_imports(source) == (
        "import tinygrad_bn as torch\nimport tinygrad_bn.nn as nn\nfrom tinygrad_bn.utils.data import DataLoader\n"
        "from tinygrad_bn import nn, optim\nx = torch.flatten(y, 1)  # torch stays torch\n")


def test_zz_report_max_differences(capsys):
    """Print the largest relative difference per port and dtype (run with -s to see it)."""
    with capsys.disabled():
        for (port, dtype), difference in sorted(MAX_DIFFERENCES.items()):
            print(f"\n  port {port:22s} {dtype:8s} max relative difference {difference:.2e}", end="")
