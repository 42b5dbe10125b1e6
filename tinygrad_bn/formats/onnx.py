"""Export a model to ONNX, to run it with ONNX Runtime (or anything else that reads ONNX) without tinygrad_bn.

    import tinygrad_bn.onnx
    tinygrad_bn.onnx.export(model, tg.randn(1, 3, 64, 64), "model.onnx")

Needs the optional `onnx` package (`pip install -e ".[onnx]"`, which also brings onnxruntime for the tests).

How the graph is found: by running the model once on `example_input` and recording the nn.functional calls and
Tensor ops it makes, each converted to ONNX nodes on the spot. Why at that level:

- Not from the module tree alone: a custom module's `forward` may add a residual (`out + identity`) or concatenate
  branches, and those ops live in Python code, not in the tree. Recording the calls sees them.
- Not from the autograd graph: its Functions keep arrays for backward, not the options ONNX needs (a Conv's stride
  and padding, a pooling window), and a BatchNorm in eval mode is a pile of primitive ops there.
- nn.functional is the framework's own vocabulary: every layer calls one function of it in `forward`
  (nn/layers.py), so one converter per function covers Conv2d, BatchNorm, pooling, Linear, the activations...
  and a custom module that calls F.conv2d itself.

While exporting, the functions in `_CONVERTERS` are temporarily replaced by wrappers that run the original and then
emit the matching ONNX node. A call made inside another recorded call (F.linear's own `@` and `+`) is not recorded
again. Every Tensor gets a name: the input, a parameter or buffer (named by its state_dict key, so the graph's
weights carry PyTorch's names), or the output of a recorded call. A Tensor that is none of these was made by an op
the exporter does not convert, and the export stops with an error naming that op and the module it ran in; it never
guesses. The model is traced in eval mode (BatchNorm with running statistics, Dropout as identity), as
torch.onnx.export does, and its own mode is restored afterwards. Patching is process-wide: do not train in another
thread while exporting. Dim 0 (the batch) stays free in the exported graph; every other size is the example's.
"""
import contextlib
import math
import os
import sys

import numpy as np

from tinygrad_bn.nn import functional as F
from tinygrad_bn.formats.serialization import _write_atomically
from tinygrad_bn.tensors import Tensor

MIN_OPSET = 13  # Softmax's per-axis meaning and Clip's min/max inputs date from 13 and 11


class ExportError(ValueError):
    """The model uses something the ONNX exporter cannot convert; the message names it and where it ran."""


def export(model, example_input, path, opset=17, input_names=None, output_names=None, metadata=None):
    """Trace `model` on `example_input` (a Tensor, or a tuple of them) and write an ONNX file at `path`.

    `metadata`: a dict of strings stored in the file (model.metadata_props). Returns the onnx ModelProto.
    """
    onnx = _import_onnx()
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"opset {opset} is not supported: use {MIN_OPSET} to {onnx.defs.onnx_opset_version()}")
    inputs = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    input_names = list(input_names or (["input"] if len(inputs) == 1 else [f"input{i}" for i in range(len(inputs))]))
    if len(input_names) != len(inputs):
        raise ValueError(f"{len(input_names)} input_names for {len(inputs)} inputs")

    graph = _Graph(onnx, opset, model)
    traced_inputs = []
    for name, value in zip(input_names, inputs):
        value = value if isinstance(value, Tensor) else Tensor(value)
        if value.dtype.kind != "f":
            raise ExportError(f"input {name!r}: expected a floating-point Tensor, got {value.dtype}")
        # requires_grad marks everything computed from the input (grad_fn), so an unconverted op can be recognised
        traced = value.detach().requires_grad_()
        graph.add_input(name, traced)
        traced_inputs.append(traced)

    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        with graph.recording():
            result = model(*traced_inputs)
    finally:
        for module, training in modes.items():
            module.training = training

    outputs = result if isinstance(result, (tuple, list)) else (result,)
    output_names = list(output_names or (["output"] if len(outputs) == 1 else
                                         [f"output{i}" for i in range(len(outputs))]))
    if len(output_names) != len(outputs):
        raise ValueError(f"{len(output_names)} output_names for {len(outputs)} outputs")
    for name, value in zip(output_names, outputs):
        graph.add_output(name, value)

    proto = graph.model(metadata)
    onnx.checker.check_model(proto, full_check=True)  # full_check: also infers every shape, catching mismatches
    data = proto.SerializeToString()
    _write_atomically(os.fspath(path), lambda file: file.write(data))  # as tg.save: no half-written file, ever
    return proto


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError('ONNX export needs the onnx package: pip install onnx (or pip install -e ".[onnx]")') \
            from None
    return onnx


class _Graph:
    """The ONNX graph under construction: nodes, initializers, and the name of every Tensor seen so far."""

    def __init__(self, onnx, opset, model):
        self.onnx, self.helper, self.opset, self.root = onnx, onnx.helper, opset, model
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self.names = {}  # id(Tensor) -> value name
        self.keep = []  # the named Tensors: alive, so that their ids are never reused during the trace
        self.used = set()
        self.state = {}  # id(parameter or buffer) -> its state_dict key
        for key, tensor in list(model.named_parameters()) + list(model.named_buffers()):
            self.state.setdefault(id(tensor), key)
        self.module_path = []  # (path, class name) of each module whose forward is running: names and messages
        self.depth = 0  # > 0 inside a recorded call: its inner ops are not recorded again

    # -- names -------------------------------------------------------------------------------------------------------
    def unique(self, base):
        name, count = base, 1
        while name in self.used:
            count += 1
            name = f"{base}_{count}"
        self.used.add(name)
        return name

    def bind(self, tensor, name):
        self.names[id(tensor)] = name
        self.keep.append(tensor)
        return name

    def where(self):
        if not self.module_path:
            return "the model"
        path, kind = self.module_path[-1]
        return f"module {path!r} ({kind})" if path else f"the model ({kind})"

    def name_of(self, value, like=None):
        """The graph value for `value`: a traced Tensor, a parameter or buffer, a Python number or a raw array."""
        if isinstance(value, Tensor):
            if id(value) in self.names:
                return self.names[id(value)]
            if id(value) in self.state:
                return self.bind(value, self.constant(value.numpy(), self.state[id(value)]))
            grad_fn = getattr(value, "grad_fn", None)
            made_by = (f"computed by {type(grad_fn).__name__}, an op the ONNX exporter does not convert"
                       if grad_fn is not None else
                       "neither computed from the input nor a parameter or buffer of the model (register it as a "
                       "buffer), or made by an op that records no gradient (comparison, argmax, indexing constant)")
            raise ExportError(f"cannot export {self.where()}: a Tensor of shape {value.shape} is {made_by}")
        if isinstance(value, (int, float)):
            dtype = like.dtype if like is not None else np.float32
            return self.constant(np.array(value, dtype=dtype), "const")
        return self.constant(Tensor(value).numpy(), "const")  # a raw NumPy or CuPy array

    def constant(self, array, base):
        name = self.unique(base)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array, order="C"), name))
        return name

    # -- nodes -------------------------------------------------------------------------------------------------------
    def node(self, op_type, inputs, out=None, **attributes):
        """Append one node; `out`, the Tensor it computes, gets its output as name (else a fresh internal name)."""
        path = self.module_path[-1][0] if self.module_path else ""
        node_name = self.unique(f"{path}/{op_type}" if path else op_type)  # features.0/Conv, as Netron shows it
        output = self.unique(node_name + ":0")
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [output], name=node_name, **attributes))
        return self.bind(out, output) if out is not None else output

    def add_input(self, name, tensor):
        self.used.add(name)
        self.bind(tensor, name)
        self.inputs.append(self._value_info(name, tensor))

    def add_output(self, name, tensor):
        if not isinstance(tensor, Tensor):
            raise ExportError(f"the model returned a {type(tensor).__name__}; export needs Tensors")
        self.used.add(name)
        self.nodes.append(self.helper.make_node("Identity", [self.name_of(tensor)], [name], name=f"{name}/Identity"))
        self.outputs.append(self._value_info(name, tensor))

    def _value_info(self, name, tensor):
        element_type = self.helper.np_dtype_to_tensor_dtype(np.dtype(tensor.dtype))
        shape = ("batch",) + tuple(tensor.shape[1:]) if tensor.ndim else ()
        return self.helper.make_tensor_value_info(name, element_type, shape)

    def model(self, metadata):
        graph = self.helper.make_graph(self.nodes, "tinygrad_bn", self.inputs, self.outputs, self.initializers)
        opsets = [self.helper.make_opsetid("", self.opset)]
        # the lowest IR version that can hold this opset: older ONNX Runtimes refuse files newer than they know
        proto = self.helper.make_model(graph, opset_imports=opsets, producer_name="tinygrad_bn",
                                       ir_version=self.helper.find_min_ir_version_for(opsets))
        if metadata:
            self.helper.set_model_props(proto, {str(key): str(value) for key, value in metadata.items()})
        return proto

    # -- recording ---------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def recording(self):
        """Swap the converted functions and every module's forward for recording wrappers; restore them after."""
        from tinygrad_bn.nn import Module

        originals = []
        try:
            for owner, name, convert in _converters():
                original = owner.__dict__[name]
                originals.append((owner, name, original))
                setattr(owner, name, self._recorder(original, convert))
            for path, module in self.root.named_modules():
                originals.append((module, "forward", module.__dict__.get("forward")))
                object.__setattr__(module, "forward", self._module_entry(path, module))
            yield
        finally:
            for owner, name, original in reversed(originals):
                if isinstance(owner, Module) and original is None:
                    del owner.__dict__[name]
                else:
                    setattr(owner, name, original)

    def _module_entry(self, path, module):
        forward = module.forward

        def entered(*args, **kwargs):
            self.module_path.append((path, type(module).__name__))
            try:
                result = forward(*args, **kwargs)
                for value in result if isinstance(result, (tuple, list)) else (result,):
                    if isinstance(value, Tensor):
                        self.name_of(value)  # an unconverted op is reported in the innermost module that ran it
                return result
            finally:
                self.module_path.pop()
        return entered

    def _recorder(self, original, convert):
        def recorded(*args, **kwargs):
            if self.depth:
                return original(*args, **kwargs)
            self.depth += 1
            try:
                out = original(*args, **kwargs)
            finally:
                self.depth -= 1
            convert(self, out, *args, **kwargs)
            return out
        return recorded


# --------------------------------------------------------------------------------------------------------------------
# Converters: convert(graph, out, *the call's arguments) emits the nodes that compute `out`. Same signatures as
# PyTorch's functions, so arguments added later (dilation, groups, ceil_mode) are already understood.
# --------------------------------------------------------------------------------------------------------------------
def _ints(value, count=2):
    return list(value) if isinstance(value, (tuple, list)) else [value] * count


def _conv2d(g, out, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    kernel, dilation = list(weight.shape[2:]), _ints(dilation)
    if padding == "valid":
        padding = 0
    if padding == "same":  # PyTorch puts the odd pixel at the bottom/right
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        pads = [t // 2 for t in total] + [t - t // 2 for t in total]
    else:
        pads = _ints(padding) * 2
    inputs = [g.name_of(input), g.name_of(weight)] + ([g.name_of(bias)] if bias is not None else [])
    g.node("Conv", inputs, out, kernel_shape=kernel, strides=_ints(stride), pads=pads, dilations=dilation,
           group=int(groups))


def _batch_norm(g, out, input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                eps=1e-5):
    if training or running_mean is None or running_var is None:
        raise ExportError(f"cannot export {g.where()}: BatchNorm normalises with batch statistics here "
                          "(track_running_stats=False, or training=True): ONNX needs running statistics")
    channels = input.shape[1]
    scale = g.name_of(weight) if weight is not None else g.name_of(np.ones(channels, dtype=input.dtype))
    shift = g.name_of(bias) if bias is not None else g.name_of(np.zeros(channels, dtype=input.dtype))
    g.node("BatchNormalization", [g.name_of(input), scale, shift, g.name_of(running_mean), g.name_of(running_var)],
           out, epsilon=float(eps))


def _linear(g, out, input, weight, bias=None):
    if input.ndim == 2:  # Gemm computes x W^T + b in one node
        inputs = [g.name_of(input), g.name_of(weight)] + ([g.name_of(bias)] if bias is not None else [])
        g.node("Gemm", inputs, out, transB=1)
        return
    transposed = g.node("Transpose", [g.name_of(weight)], perm=[1, 0])
    if bias is None:
        g.node("MatMul", [g.name_of(input), transposed], out)
    else:
        g.node("Add", [g.node("MatMul", [g.name_of(input), transposed]), g.name_of(bias)], out)


def _dropout(g, out, input, p=0.5, training=True, inplace=False):
    if training and p > 0:
        raise ExportError(f"cannot export {g.where()}: dropout with training=True (call model.eval() semantics)")
    g.bind(out, g.name_of(input))  # identity: the same value under a second Tensor


def _pool_attributes(kernel_size, stride, padding, ceil_mode):
    kernel = _ints(kernel_size)
    return dict(kernel_shape=kernel, strides=_ints(stride) if stride is not None else kernel,
                pads=_ints(padding) * 2, ceil_mode=int(ceil_mode))


def _max_pool2d(g, out, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                return_indices=False):
    if return_indices:
        raise ExportError(f"cannot export {g.where()}: max_pool2d with return_indices=True")
    g.node("MaxPool", [g.name_of(input)], out, dilations=_ints(dilation),
           **_pool_attributes(kernel_size, stride, padding, ceil_mode))


def _avg_pool2d(g, out, input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None):
    if divisor_override is not None:
        raise ExportError(f"cannot export {g.where()}: avg_pool2d with divisor_override")
    g.node("AveragePool", [g.name_of(input)], out, count_include_pad=int(count_include_pad),
           **_pool_attributes(kernel_size, stride, padding, ceil_mode))


def _adaptive_avg_pool2d(g, out, input, output_size):
    if _ints(output_size) != [1, 1]:
        # the windows depend on the input size, which ONNX would fix at the example's: refuse rather than mislead
        raise ExportError(f"cannot export {g.where()}: adaptive_avg_pool2d to {output_size} (only 1 is supported)")
    g.node("GlobalAveragePool", [g.name_of(input)], out)


def _unary(op_type, **attributes):
    def convert(g, out, input, *ignored, **ignored_keywords):  # e.g. inplace=True changes nothing in a graph
        g.node(op_type, [g.name_of(input)], out, **attributes)
    return convert


def _leaky_relu(g, out, input, negative_slope=0.01, inplace=False):
    g.node("LeakyRelu", [g.name_of(input)], out, alpha=float(negative_slope))


def _elu(g, out, input, alpha=1.0, inplace=False):
    g.node("Elu", [g.name_of(input)], out, alpha=float(alpha))


def _hardtanh(g, out, input, min_val=-1.0, max_val=1.0, inplace=False):
    g.node("Clip", [g.name_of(input), g.name_of(min_val, input), g.name_of(max_val, input)], out)


def _relu6(g, out, input, inplace=False):
    _hardtanh(g, out, input, 0.0, 6.0)


def _silu(g, out, input, inplace=False):
    x = g.name_of(input)
    g.node("Mul", [x, g.node("Sigmoid", [x])], out)


def _gelu(g, out, input, approximate="none"):
    """0.5 x (1 + erf(x / sqrt 2)), or with tanh(sqrt(2/pi) (x + 0.044715 x^3)): composed, so any opset runs it."""
    x = g.name_of(input)
    if approximate == "tanh":
        cube = g.node("Mul", [x, g.node("Mul", [x, x])])
        inner = g.node("Add", [x, g.node("Mul", [cube, g.name_of(0.044715, input)])])
        core = g.node("Tanh", [g.node("Mul", [inner, g.name_of(math.sqrt(2 / math.pi), input)])])
    else:
        core = g.node("Erf", [g.node("Mul", [x, g.name_of(1 / math.sqrt(2), input)])])
    half_x = g.node("Mul", [x, g.name_of(0.5, input)])
    g.node("Mul", [half_x, g.node("Add", [core, g.name_of(1.0, input)])], out)


def _softmax(op_type):
    def convert(g, out, input, dim=None, *ignored, **ignored_keywords):
        if dim is None:
            raise ExportError(f"cannot export {g.where()}: {op_type} without dim")
        g.node(op_type, [g.name_of(input)], out, axis=int(dim) % input.ndim)
    return convert


def _binary(op_type, reverse=False):
    def convert(g, out, a, b):
        a_name, b_name = g.name_of(a), g.name_of(b, like=a)
        g.node(op_type, [b_name, a_name] if reverse else [a_name, b_name], out)
    return convert


def _reshape(g, out, input, *shape):
    target = list(out.shape)
    if input.ndim and target and target[0] == input.shape[0]:
        target[0] = 0  # ONNX's "copy this dim from the input": the batch stays free
    g.node("Reshape", [g.name_of(input), g.name_of(np.array(target, dtype=np.int64))], out)


def _flatten(g, out, input, start_dim=0, end_dim=-1):
    _reshape(g, out, input)


def _mean(g, out, input, dim=None, keepdim=False):
    axes = [d % input.ndim for d in _ints(dim, 1)] if dim is not None else list(range(input.ndim))
    if sorted(axes) == [2, 3] and input.ndim == 4 and keepdim:
        g.node("GlobalAveragePool", [g.name_of(input)], out)
    elif g.opset >= 18:  # opset 18 moved ReduceMean's axes from an attribute to an input
        g.node("ReduceMean", [g.name_of(input), g.name_of(np.array(axes, dtype=np.int64))], out,
               keepdims=int(keepdim))
    else:
        g.node("ReduceMean", [g.name_of(input)], out, axes=axes, keepdims=int(keepdim))


def _cat(g, out, tensors, dim=0):
    tensors = list(tensors)
    g.node("Concat", [g.name_of(t) for t in tensors], out, axis=int(dim) % tensors[0].ndim)


_TENSOR_METHODS = {
    "__add__": _binary("Add"), "__radd__": _binary("Add", reverse=True),
    "__sub__": _binary("Sub"), "__rsub__": _binary("Sub", reverse=True),
    "__mul__": _binary("Mul"), "__rmul__": _binary("Mul", reverse=True),
    "__truediv__": _binary("Div"), "__rtruediv__": _binary("Div", reverse=True),
    "relu": _unary("Relu"), "sigmoid": _unary("Sigmoid"), "tanh": _unary("Tanh"),
    "softmax": _softmax("Softmax"), "log_softmax": _softmax("LogSoftmax"),
    "reshape": _reshape, "view": _reshape, "flatten": _flatten, "mean": _mean,
}
_FUNCTIONS = {
    "conv2d": _conv2d, "batch_norm": _batch_norm, "linear": _linear, "dropout": _dropout,
    "max_pool2d": _max_pool2d, "avg_pool2d": _avg_pool2d, "adaptive_avg_pool2d": _adaptive_avg_pool2d,
    "relu": _unary("Relu"), "sigmoid": _unary("Sigmoid"), "tanh": _unary("Tanh"), "leaky_relu": _leaky_relu,
    "elu": _elu, "gelu": _gelu, "silu": _silu, "hardtanh": _hardtanh, "relu6": _relu6,
    "softmax": _softmax("Softmax"), "log_softmax": _softmax("LogSoftmax"),
}
_MODULE_FUNCTIONS = {"cat": _cat, "flatten": _flatten, "relu": _unary("Relu"), "sigmoid": _unary("Sigmoid"),
                     "tanh": _unary("Tanh")}


def _converters():
    """(owner, attribute, converter) for each function that exists in this version of the framework."""
    import tinygrad_bn

    table = [(Tensor, name, convert) for name, convert in _TENSOR_METHODS.items()]
    table += [(F, name, convert) for name, convert in _FUNCTIONS.items()]
    # tg.cat is also the cat of tensors.py, which the core's own modules call
    for owner in (tinygrad_bn, sys.modules["tinygrad_bn.tensors"]):
        table += [(owner, name, convert) for name, convert in _MODULE_FUNCTIONS.items()]
    # owner.__dict__, not hasattr: only what the owner itself defines (Tensor methods, module attributes)
    return [(owner, name, convert) for owner, name, convert in table if name in vars(owner)]
