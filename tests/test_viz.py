"""The graph viewer (tinygrad_bn/viz.py): the DOT text names the right nodes and edges, reading the graph changes
nothing in it, and drawing degrades to a .dot file and a warning where Graphviz's `dot` is not installed."""
import re
import shutil
import subprocess
import warnings

import numpy as np
import pytest

import tinygrad_bn as tg
from tinygrad_bn import nn, viz
from tinygrad_bn.viz import draw, to_dot

NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
EDGE = re.compile(r"^\s*(\w+) -> (\w+);$")


def parse(dot):
    """{node: its label's lines} and the list of (tail, head) edges of the DOT text `to_dot` writes."""
    nodes, edges = {}, []
    for line in dot.splitlines():
        if match := NODE.match(line):
            nodes[match.group(1)] = match.group(2).split("\\n")
        elif match := EDGE.match(line):
            edges.append(match.groups())
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert all(tail in nodes and head in nodes for tail, head in edges), "an edge names an undeclared node"
    return nodes, edges


def by_first_line(nodes, first):
    """The ids of the nodes whose label starts with `first` (an op name, a parameter's name)."""
    return [node for node, label in nodes.items() if label[0] == first]


def tiny_expression():
    """loss = sum(tanh(x @ w + b)): x a constant, w and b parameters."""
    x = tg.ones(4, 3)
    w = tg.full((3, 2), 0.1, requires_grad=True)
    b = tg.zeros(2, requires_grad=True)
    return x, w, b, (x @ w + b).tanh().sum()


def test_tiny_expression_nodes_and_edges():
    x, w, b, loss = tiny_expression()
    nodes, edges = parse(to_dot(loss, names={w: "w", b: "b", loss: "loss"}))
    [matmul], [add], [tanh], [total] = (by_first_line(nodes, op) for op in ("MatMulFn", "AddFn", "TanhFn", "SumFn"))
    [w_node], [b_node], [root] = by_first_line(nodes, "w"), by_first_line(nodes, "b"), by_first_line(nodes, "loss")
    [constant] = by_first_line(nodes, "constant")
    assert len(nodes) == 8  # 4 functions, 2 parameters, 1 constant, the root
    # Edges run the way data flows: inputs into the function that used them, the last function into the root.
    assert sorted(edges) == sorted([(constant, matmul), (w_node, matmul), (matmul, add), (b_node, add),
                                    (add, tanh), (tanh, total), (total, root)])
    # Shapes and dtypes: each function's output, each leaf's own, the constant's.
    assert nodes[matmul][1] == nodes[add][1] == nodes[tanh][1] == "(4, 2) float32"
    assert nodes[total][1] == nodes[root][1] == "() float32"
    assert nodes[w_node][1] == "(3, 2) float32" and nodes[b_node][1] == "(2,) float32"
    assert nodes[constant][1] == "(4, 3) float32"
    # What each function keeps for its backward.
    assert nodes[matmul][2] == "saved: (4, 3), (3, 2) float32"
    assert nodes[tanh][2] == "saved: (4, 2) float32"
    assert nodes[add][2] == "saves nothing"


def test_names_from_named_parameters_and_intermediate_names():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    hidden = model[1](model[0](tg.randn(5, 3)))
    out = model[2](hidden)
    nodes, _ = parse(to_dot(out.mean(), params=dict(model.named_parameters()), names={hidden: "h"}))
    first_lines = {label[0] for label in nodes.values()}
    assert {"0.weight", "0.bias", "2.weight", "2.bias", "TanhFn → h", "output"} <= first_lines
    [weight] = by_first_line(nodes, "0.weight")
    assert nodes[weight][1] == "(4, 3) float32"


def test_constants_and_saved_arrays_can_be_hidden():
    _, _, _, loss = tiny_expression()
    nodes, _ = parse(to_dot(loss, show_constants=False, show_saved=False))
    assert not by_first_line(nodes, "constant")
    assert all(len(label) == 2 for label in nodes.values())  # name or op, then shape and dtype


def test_shared_subexpression_appears_once():
    """h is used three times (twice by one Mul): one Tanh node, with one edge per use."""
    x = tg.Tensor(np.array([0.5, -1.0]), requires_grad=True)
    h = x.tanh()
    loss = (h * h + h).sum()
    nodes, edges = parse(to_dot(loss, names={x: "x"}))
    [tanh], [mul], [add], [x_node] = (by_first_line(nodes, name) for name in ("TanhFn", "MulFn", "AddFn", "x"))
    assert edges.count((tanh, mul)) == 2 and edges.count((tanh, add)) == 1
    assert edges.count((x_node, tanh)) == 1


def test_reading_the_graph_changes_nothing():
    x, w, b, loss = tiny_expression()
    fn = loss.grad_fn
    parents, saved = fn.parents, fn.saved
    first = to_dot(loss)
    assert to_dot(loss) == first  # deterministic, and the first call left nothing behind
    assert fn.parents is parents and fn.saved is saved and w.grad is None
    loss.backward()
    g = np.full((4, 2), 1 - np.tanh(0.3) ** 2)  # dL/d(x @ w + b); every pre-activation is 3 * 0.1
    np.testing.assert_allclose(w.grad.numpy(), np.ones((3, 4)) @ g, rtol=1e-6)


def test_freed_graph_after_backward():
    """backward() without retain_graph frees parents and saved arrays: only the last function is left to draw."""
    _, _, _, loss = tiny_expression()
    loss.backward()
    nodes, edges = parse(to_dot(loss))
    [total] = by_first_line(nodes, "SumFn")
    assert nodes[total][2] == "saved: freed"
    assert len(nodes) == 2 and edges == [(total, "root")]


def test_leaf_root():
    w = tg.ones(3, requires_grad=True)
    nodes, edges = parse(to_dot(w, names={w: "w"}))
    assert list(nodes.values()) == [["w", "(3,) float32"]] and edges == []


def test_deep_chain_is_walked_without_recursion():
    x = tg.Tensor(np.array([0.1, 0.2]), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y.tanh()
    nodes, edges = parse(to_dot(y, names={x: "x"}))
    assert len(by_first_line(nodes, "TanhFn")) == 10_000
    assert len(nodes) == 10_002 and len(edges) == 10_001  # x, the functions, the root
    y.sum().backward()  # the graph is intact
    assert x.grad is not None


def test_draw_without_dot_writes_the_dot_file_and_warns(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)

    def no_subprocess(*args, **kwargs):
        raise AssertionError("draw() must not run a program that is not installed")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    _, _, _, loss = tiny_expression()
    with pytest.warns(UserWarning, match="`dot` program was not found"):
        drawing = draw(loss, tmp_path / "graph.svg")
    assert drawing.image_path is None
    assert drawing.dot_path == tmp_path / "graph.dot"
    assert drawing.dot_path.read_text(encoding="utf-8") == to_dot(loss)
    assert not (tmp_path / "graph.svg").exists()


def test_draw_reports_a_failing_dot(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/dot")
    monkeypatch.setattr(subprocess, "run",
                        lambda *args, **kwargs: subprocess.CompletedProcess(args, 1, "", "syntax error"))
    _, _, _, loss = tiny_expression()
    with pytest.warns(UserWarning, match="syntax error"):
        assert draw(loss, tmp_path / "graph").image_path is None


@pytest.mark.skipif(shutil.which("dot") is None,
                    reason="Graphviz's `dot` is not installed (e.g. `apt-get install graphviz`): rendering not tested")
@pytest.mark.parametrize("name, signature", [("graph.svg", b"<svg"), ("graph.png", b"\x89PNG")])
def test_draw_renders_with_dot(tmp_path, name, signature):
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
    loss = model(tg.randn(2, 3, 6, 6)).mean()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        drawing = draw(loss, tmp_path / name, params=dict(model.named_parameters()))
    assert drawing.image_path == tmp_path / name and drawing.dot_path.exists()
    assert signature in drawing.image_path.read_bytes()[:500]
    assert "BatchNormFn" in drawing.dot_path.read_text(encoding="utf-8")
    assert viz.Drawing(*drawing) == drawing
