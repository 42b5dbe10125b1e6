"""Draw the autograd graph behind a tensor, as Graphviz DOT text (the lesson docs/autograd.md uses the pictures).

    from tinygrad_bn.viz import draw, to_dot
    loss = model(x).mean()
    print(to_dot(loss, params=dict(model.named_parameters())))
    draw(loss, "graph.svg")      # writes graph.dot; graph.svg too when Graphviz's `dot` program is installed

What the picture shows is exactly what backward() walks (autograd.py): Functions, leaf tensors and the links between
them in `fn.parents`. Edges point the way data flows in the forward pass, from an input to the function that used
it, so backward() walks every arrow in reverse.

- a box is a Function (`Conv2dFn`, `BatchNormFn`, `AddFn`, ...: every Function's name ends in Fn, so it is never
  mistaken for the layer nn.Conv2d) with the shape and dtype of its output, and the arrays it saved for backward;
- a blue ellipse is a leaf tensor that requires grad (a parameter): its gradient ends in `leaf.grad`;
- a dashed grey note is a constant input (`parents[k] is None`: an image, a label, a Python number);
- the green ellipse is the tensor the graph was drawn for (the root).

The graph links functions, not tensors, so a function's output shape is read from where it is used: the consumer's
`input_specs[k]` is the (shape, dtype) of its input k, and the root's own shape is the last function's output.
Reading the graph changes nothing in it; the walk is autograd's own iterative `topological_order`, so a
10,000-op chain needs no recursion.
"""
import collections
import shutil
import subprocess
import warnings
from pathlib import Path

from .autograd import Function, topological_order

Drawing = collections.namedtuple("Drawing", ["dot_path", "image_path"])  # image_path is None when not rendered

_FUNCTION_STYLE = 'shape=box, style="rounded,filled", fillcolor="#eeeeee"'
_PARAMETER_STYLE = 'shape=ellipse, style=filled, fillcolor="#cfe2ff"'
_CONSTANT_STYLE = 'shape=note, style=dashed, color="#888888", fontcolor="#555555"'
_ROOT_STYLE = 'shape=ellipse, style=filled, fillcolor="#c9f2c9", penwidth=2'


def to_dot(tensor, names=None, params=None, show_constants=True, show_saved=True, rankdir="TB"):
    """The autograd graph behind `tensor` as Graphviz DOT text.

    names:  {tensor: "w1"} labels for leaf tensors; a named intermediate tensor (one with a grad_fn) labels the
            function that computed it, and a named root labels the root.
    params: {"0.weight": tensor}, e.g. dict(model.named_parameters()); names given in `names` take precedence.
    show_constants: draw a node for every constant input (`parents[k] is None`).
    show_saved: list the shapes of the arrays each function saved for its backward ("freed" once backward ran).
    rankdir: "TB" (top to bottom) or "LR" (left to right).
    """
    # Keyed by id(): Tensors compare elementwise, so they are looked up by identity (as in autograd's `pending`).
    name_of = {id(t): name for name, t in (params or {}).items()}
    name_of.update({id(t): name for t, name in (names or {}).items()})
    for t, name in (names or {}).items():
        if t.grad_fn is not None and t is not tensor:  # the root's name goes on the root node alone
            name_of[id(t.grad_fn)] = name

    # ordering=in: a function's inputs are laid out left to right in argument order (x before y, W before b).
    lines = ["digraph autograd {", f"  rankdir={rankdir}; ordering=in;",
             '  node [fontname="Helvetica", fontsize=11]; edge [color="#555555", arrowsize=0.7];']
    start = tensor.grad_fn if tensor.grad_fn is not None else tensor
    order = topological_order(start)  # every node after the nodes it was computed from
    node_id = {id(node): f"n{i}" for i, node in enumerate(order)}

    # The shape and dtype of each function's output: the root tensor's for the last function, otherwise the
    # (shape, dtype) a consumer recorded for that input. Every other function has a consumer in the graph.
    output_spec = {id(start): (tensor.shape, tensor.dtype)}
    edges = []
    for node in order:
        for k, parent in enumerate(getattr(node, "parents", None) or ()):
            if parent is not None:
                output_spec.setdefault(id(parent), node.input_specs[k])
                edges.append((node_id[id(parent)], node_id[id(node)]))
            elif show_constants:
                constant = f"{node_id[id(node)]}_c{k}"
                lines.append(_node(constant, ["constant", _spec(*node.input_specs[k])], _CONSTANT_STYLE))
                edges.append((constant, node_id[id(node)]))

    for node in order:
        if isinstance(node, Function):
            label = [type(node).__name__ + (f" → {name_of[id(node)]}" if id(node) in name_of else ""),
                     _spec(*output_spec[id(node)])]
            if show_saved:
                label.append(_saved(node))
            style = _FUNCTION_STYLE
        else:  # a leaf tensor: a parameter, or the root itself when nothing computed it
            label = [name_of.get(id(node), "parameter" if node.requires_grad else "tensor"),
                     _spec(node.shape, node.dtype)]
            style = _ROOT_STYLE if node is tensor else _PARAMETER_STYLE
        lines.append(_node(node_id[id(node)], label, style))

    if tensor.grad_fn is not None:  # the root tensor, fed by the function that computed it
        label = [name_of.get(id(tensor), "output"), _spec(tensor.shape, tensor.dtype)]
        lines.append(_node("root", label, _ROOT_STYLE))
        edges.append((node_id[id(start)], "root"))

    lines += [f"  {tail} -> {head};" for tail, head in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(tensor, path, format=None, **options):
    """Write the graph of `tensor` to `path` with suffix .dot, and render it with Graphviz's `dot` program.

    The image format comes from `path`'s suffix (graph.svg, graph.png) or `format` (default "svg"). `options` go
    to `to_dot`. Returns Drawing(dot_path, image_path); image_path is None, with a warning that says what to do,
    when `dot` is not installed or fails: the .dot file is still there to render elsewhere.
    """
    path = Path(path)
    if path.suffix.lower() in (".svg", ".png", ".pdf"):
        format = format or path.suffix[1:].lower()
    format = format or "svg"
    dot_path, image_path = path.with_suffix(".dot"), path.with_suffix("." + format)
    dot_path.parent.mkdir(parents=True, exist_ok=True)
    dot_path.write_text(to_dot(tensor, **options), encoding="utf-8")

    program = shutil.which("dot")
    if program is None:
        warnings.warn(f"Graphviz's `dot` program was not found, so only {dot_path} was written. Install Graphviz "
                      f"(e.g. `apt-get install graphviz`, `brew install graphviz`) and run "
                      f"`dot -T{format} {dot_path} -o {image_path}`, or paste the .dot text into any Graphviz viewer.",
                      stacklevel=2)
        return Drawing(dot_path, None)
    try:
        result = subprocess.run([program, f"-T{format}", str(dot_path), "-o", str(image_path)],
                                capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as error:
        warnings.warn(f"`dot` could not render {dot_path}: {error}", stacklevel=2)
        return Drawing(dot_path, None)
    if result.returncode != 0:
        warnings.warn(f"`dot` failed on {dot_path} (exit code {result.returncode}): {result.stderr.strip()}",
                      stacklevel=2)
        return Drawing(dot_path, None)
    return Drawing(dot_path, image_path)


def _node(name, label_lines, style):
    """One DOT node statement; the label's lines are joined with DOT's line break."""
    label = "\n".join(label_lines).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'  {name} [label="{label}", {style}];'


def _spec(shape, dtype):
    return f"{tuple(shape)} {dtype}"


def _saved(fn):
    """What a function keeps alive for its backward: the shapes of its saved arrays (one dtype named once)."""
    if fn.saved is None:
        return "saved: freed"
    if not fn.saved:
        return "saves nothing"
    arrays = [a for a in fn.saved if hasattr(a, "shape")]
    dtypes = {str(a.dtype) for a in arrays}
    if len(dtypes) == 1 and len(arrays) == len(fn.saved):
        return "saved: " + ", ".join(str(tuple(a.shape)) for a in arrays) + f" {dtypes.pop()}"
    return "saved: " + ", ".join(_spec(a.shape, a.dtype) if hasattr(a, "shape") else type(a).__name__
                                 for a in fn.saved)
