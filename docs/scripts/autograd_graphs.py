"""Draw the three graphs of docs/autograd.md into docs/images/, and print every number the lesson quotes.

1. a tiny MLP: two matmul + add layers with tanh between them, and a mean squared error written out by hand;
2. sum(h * h + h) with h = tanh(x): one intermediate result used three times;
3. a conv-BN-ReLU block: nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), a mean as loss.

Each picture is written as .dot (always) and .svg (when Graphviz's `dot` program is installed). The short
demonstrations after them (accumulation, freeing, broadcasting, in-place changes, no_grad, a deep chain, gradcheck)
print what the lesson shows in its text.

Run from the repository root:  PYTHONPATH=. python docs/scripts/autograd_graphs.py
(--images DIR writes the pictures elsewhere: tests/test_docs_outputs.py does, to leave docs/images/ alone.)
The "wrote" lines name the files only: their sizes, and whether an .svg is written at all, depend on the installed
Graphviz, and every other line is the same on every machine.
"""
import argparse
from pathlib import Path

import numpy as np

import tinygrad_bn as tg
from tinygrad_bn import nn
from tinygrad_bn.autograd import Function, topological_order
from tinygrad_bn.viz import draw

IMAGES = Path(__file__).resolve().parent.parent / "images"


def tiny_mlp():
    """loss = mean((tanh(x @ W1 + b1) @ W2 + b2 - y)^2) on a batch of 4 points with 3 features."""
    tg.manual_seed(0)
    x, y = tg.randn(4, 3), tg.randn(4, 1)   # data: constants, no gradient
    W1, b1 = tg.randn(3, 8, requires_grad=True), tg.zeros(8, requires_grad=True)
    W2, b2 = tg.randn(8, 1, requires_grad=True), tg.zeros(1, requires_grad=True)
    h = (x @ W1 + b1).tanh()
    pred = h @ W2 + b2
    diff = pred - y
    loss = (diff * diff).mean()             # diff is used twice by one MulFn
    names = {W1: "W1", b1: "b1", W2: "W2", b2: "b2", h: "h", pred: "pred", diff: "diff", loss: "loss"}
    return loss, names


def reused():
    """loss = sum(h * h + h), h = tanh(x): one intermediate result used three times."""
    x = tg.tensor([0.5, -1.0], requires_grad=True)
    h = x.tanh()
    loss = (h * h + h).sum()
    return loss, {x: "x", h: "h", loss: "loss"}


def conv_bn_relu():
    """loss = mean(relu(bn(conv(x)))) on a batch of 2 RGB images of 8x8 pixels."""
    tg.manual_seed(0)
    block = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
    x = tg.randn(2, 3, 8, 8)
    loss = block(x).mean()
    return loss, dict(block.named_parameters())


def print_order(title, loss, name_of):
    """The nodes in the order topological_order lists them; backward() visits them in reverse."""
    order = topological_order(loss.grad_fn)
    print(f"{title}: topological_order(loss.grad_fn), {len(order)} nodes")
    print("  " + ", ".join(name_of.get(id(node), type(node).__name__) for node in order))


def report(drawing):
    for path in (drawing.dot_path, drawing.image_path):
        if path is not None:
            print(f"  wrote {path.name}")


def outcome(action):
    """Run `action`: 'returned <value>', or the first line of the error it raised ('RuntimeError: ...')."""
    try:
        return f"returned {action()}"
    except Exception as error:  # noqa: BLE001 (the demonstrations print whatever is raised)
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"


def accumulation():
    print("accumulation: x = [1, -2, 3], L = sum(x * x), dL/dx = 2x")
    x = tg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    print(f"  after one backward:                     x.grad = {x.grad.tolist()}")
    (x * x).sum().backward()
    print(f"  after a second graph and backward:      x.grad = {x.grad.tolist()}   (added, not replaced)")
    x.grad = None  # what optimizer.zero_grad() does
    (x * x).sum().backward()
    print(f"  after x.grad = None and a third one:    x.grad = {x.grad.tolist()}")


def freeing():
    print("freeing: backward() twice through one graph")
    w = tg.tensor([0.5, 1.0], requires_grad=True)
    loss = (w.exp() * w).sum()
    loss.backward()
    print(f"  after the first backward: loss.grad_fn.parents = {loss.grad_fn.parents}, saved = {loss.grad_fn.saved}")
    print(f"  second backward: {outcome(loss.backward)}")
    w.grad = None
    loss = (w.exp() * w).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    grad = ", ".join(f"{g:.4f}" for g in w.grad.tolist())
    print(f"  with retain_graph=True the first time: two backwards, w.grad = [{grad}] = 2 * (exp(w) + w exp(w))")


def broadcasting():
    print("unbroadcast: b (3,) added to every row of a (2, 3) array, L = sum((a + b) * weights)")
    a, b = tg.ones(2, 3), tg.zeros(3, requires_grad=True)
    weights = tg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    ((a + b) * weights).sum().backward()
    print(f"  dL/d(a + b) = weights, shape (2, 3); b.grad = {b.grad.tolist()} = the column sums of weights")


def in_place():
    print("version counter: a constant changed in place after a MulFn saved it")
    a, w = tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0], requires_grad=True)
    loss = (w * a).sum()
    a.add_(1)
    print(f"  {outcome(loss.backward)}")


def without_grad():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    with tg.no_grad():
        out = w * 2
    print(f"no_grad: out = w * 2 inside no_grad(): out.grad_fn = {out.grad_fn}, out.requires_grad = "
          f"{out.requires_grad}")


def recursive_order(node, order, visited):
    """The textbook recursive topological sort (micrograd's `build_topo`): one Python frame per level of depth."""
    if id(node) not in visited:
        visited.add(id(node))
        for parent in getattr(node, "parents", None) or ():
            if parent is not None:
                recursive_order(parent, order, visited)
        order.append(node)


def deep_chain():
    x = tg.tensor([0.1, 0.2], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y.tanh()
    print("a chain of 10,000 tanh:")
    print(f"  recursive topological sort: {outcome(lambda: recursive_order(y.grad_fn, [], set()))}")
    print(f"  autograd.topological_order: {len(topological_order(y.grad_fn))} nodes")
    y.sum().backward()
    print(f"  backward(): x.grad = {np.array2string(x.grad.numpy(), precision=6)}")


class SquareWrongFn(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, g):
        """gx = g * x: wrong, the derivative of x^2 is 2x"""
        (x,) = self.saved
        return g * x


class SquareFn(SquareWrongFn):
    def backward(self, g):
        """gx = 2 * g * x"""
        (x,) = self.saved
        return 2 * g * x


def checking():
    x = tg.tensor([[0.3, -1.2, 2.0], [0.7, 0.1, -0.5]], requires_grad=True)
    print("gradcheck:")
    print(f"  SquareFn (gx = 2 g x):     {outcome(lambda: tg.gradcheck(SquareFn.apply, [x]))}")
    print(f"  SquareWrongFn (gx = g x):  {outcome(lambda: tg.gradcheck(SquareWrongFn.apply, [x]))}")


def main(images=IMAGES):
    loss, names = tiny_mlp()
    print_order("tiny MLP", loss, {id(t): name for t, name in names.items()})
    report(draw(loss, images / "autograd_mlp.svg", names=names))

    loss, names = reused()
    print_order("reused h", loss, {id(t): name for t, name in names.items()})
    drawing = draw(loss, images / "autograd_reuse.svg", names=names)  # before backward() frees the saved arrays
    loss.backward()
    x = next(t for t, name in names.items() if name == "x")
    h = np.tanh(x.numpy())
    print(f"  x.grad = {x.grad.numpy()},  (2h + 1)(1 - h^2) = {(2 * h + 1) * (1 - h * h)}")
    report(drawing)

    loss, params = conv_bn_relu()
    print_order("conv-BN-ReLU", loss, {id(t): name for name, t in params.items()})
    report(draw(loss, images / "autograd_conv_bn_relu.svg", params=params, names={loss: "loss"}))

    for demonstration in (accumulation, freeing, broadcasting, in_place, without_grad, deep_chain, checking):
        print()
        demonstration()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=IMAGES, help="folder for the pictures (default: docs/images)")
    main(parser.parse_args().images)
