"""`catsdogs export`: a trained cats-vs-dogs checkpoint as one ONNX file that runs on raw RGB pixels.

    python -m models.catsdogs export --checkpoint runs/default --onnx catsdogs.onnx

The file needs nothing from this project: the input normalisation, (pixel / 255 - mean) / std per channel, is inside
the graph, and the class names, the image size and how to prepare an image are in its metadata. Input "image": float32
(N, 3, S, S), RGB, pixel values 0..255 as decoded (not divided by 255). Outputs "logits" and "probabilities".
"""
import json

import numpy as np

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
from .images import cache_size, printable
from tinygrad_bn.onnx import MIN_OPSET, export

from .checkpoint import CatsDogsError, load_checkpoint, model_from_checkpoint


class RawPixelModel(nn.Module):
    """The trained net behind its input normalisation: 0..255 RGB in, (logits, probabilities) out.

    The normalisation is written as CroppedImages writes it (one multiply, one subtract), so the numbers match.
    """

    def __init__(self, net, mean, std):
        super().__init__()
        self.net = net
        mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        self.register_buffer("scale", tg.Tensor((1.0 / (255.0 * std)).reshape(1, 3, 1, 1)))
        self.register_buffer("shift", tg.Tensor((mean / std).reshape(1, 3, 1, 1)))

    def forward(self, pixels):
        logits = self.net(pixels * self.scale - self.shift)
        return logits, logits.softmax(1)


def export_command(args):
    check_opset(args.opset)
    checkpoint = load_checkpoint(args.checkpoint)
    size, classes = checkpoint["image_size"], checkpoint["classes"]
    model = RawPixelModel(model_from_checkpoint(checkpoint, "cpu"), checkpoint["mean"], checkpoint["std"])
    example = tg.Tensor(np.full((1, 3, size, size), 128.0, dtype=np.float32))
    try:
        export(model, example, args.onnx, opset=args.opset, input_names=["image"],
               output_names=["logits", "probabilities"], metadata=metadata(checkpoint))
    except ImportError as error:  # onnx is an optional extra: the message says how to install it
        raise CatsDogsError(str(error)) from None
    except OSError as error:
        raise CatsDogsError(f"cannot write {printable(args.onnx)}: {error.strerror or error}") from None
    print(f"wrote {args.onnx}: input 'image' float32 (N, 3, {size}, {size}) RGB 0..255, "
          f"outputs 'logits' and 'probabilities' for {classes}")


def check_opset(opset):
    """Refuse an --opset the exporter cannot write, before the checkpoint is read."""
    try:
        import onnx
    except ImportError:  # export() says how to install it
        return
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise CatsDogsError(f"--opset {opset} is not supported: use {MIN_OPSET} to {newest} (the installed onnx "
                            f"{onnx.__version__} knows opsets up to {newest})")


def metadata(checkpoint):
    """What a user of the .onnx file needs to know, as strings (ONNX metadata holds strings only)."""
    size = checkpoint["image_size"]
    return {
        "classes": json.dumps(checkpoint["classes"]),  # ASCII: json escapes what is not
        "image_size": str(size),
        "resize_to": str(cache_size(size)),
        "input": f"float32 (N, 3, {size}, {size}), RGB, raw pixel values 0..255 (normalisation is in the graph)",
        "preprocessing": f"as training did: crop the centre square and resize it to resize_to x resize_to "
                         f"({cache_size(size)} px, bilinear), then take its centre {size}x{size}",
        "mean": json.dumps(checkpoint["mean"].tolist()),
        "std": json.dumps(checkpoint["std"].tolist()),
        "source": f"tinygrad_bn catsdogs checkpoint {printable(checkpoint['path'])}",
    }


def add_export_parser(commands):
    parser = commands.add_parser("export", help="write the model as ONNX (normalisation inside, for raw RGB input)")
    parser.set_defaults(run=export_command)
    parser.add_argument("--checkpoint", required=True, help="a .npz from train, or a run folder (best.npz)")
    parser.add_argument("--onnx", required=True, metavar="PATH", help="the .onnx file to write")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset version (default %(default)s)")
