"""Around the library: files that carry a model out of it.

serialization.py   tg.save / tg.load: .npz (atomic writes, no pickle) and .safetensors
onnx.py            tinygrad_bn.onnx.export: a model as an ONNX graph, for ONNX Runtime and other tools

Both use only the core's public API (Tensor, nn.functional, Module); nothing in the core imports them.
"""
