"""Recipe tools for training.py: an exponential moving average of the weights (--ema), mixup (--mixup) and the named
presets of settings (--recipe). Each has PyTorch's (or the paper's) semantics, stated where it is defined.

    ema = ModelEMA(model, decay=0.995)          # after each optimizer step: ema.update(model); evaluate ema.model
    images, partner_labels, lam = mixup(images, labels, alpha=0.2, rng=np.random.default_rng(0))
    loss = lam * F.cross_entropy(model(images), labels) + (1 - lam) * F.cross_entropy(..., partner_labels)
"""
import tinygrad_bn as tg
from tinygrad_bn.backend import get_array_module
from .catsdogs_net import build_model

# Named presets: the settings a --recipe sets unless the same flags are given. "strong" reached 95.6% validation
# accuracy in 57 minutes on the 2-core CPU (README): the VGG net for 13 epochs at 60 px (no progressive resizing:
# shrunk training images are softer than the sharp validation images, which cost accuracy in this long run), an
# average of the weights, label smoothing, and flip-averaged validation after epochs 6, 12 and 13 only (each takes
# half a minute). "long" is the same for 22 epochs: 96.1% in 1 h 43 min on that CPU.
STRONG = {"arch": "vgg", "epochs": 13, "progressive": 0, "label_smoothing": 0.1, "ema": 0.995, "tta": True,
          "val_every": 6}
RECIPES = {"strong": STRONG, "long": {**STRONG, "epochs": 22}}


class ModelEMA:
    """An exponential moving average of a model's weights: with --ema DECAY, the model validated and saved.

    After every optimizer step, for every parameter and every floating-point buffer (BatchNorm's running mean and
    variance):

        average = decay * average + (1 - decay) * current

    as PyTorch's AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True): the first update
    copies the weights, integer buffers (num_batches_tracked) are copied. The average of the last ~1 / (1 - decay)
    steps' weights sits nearer the bottom of the valley than the weights SGD is bouncing around in.
    """

    def __init__(self, model, decay):
        self.decay = decay
        self.updates = 0
        device = next(iter(model.parameters())).device
        self.model = build_model(model.architecture()).to(device).eval()
        self.model.requires_grad_(False)
        self._copy(model)

    def _pairs(self, model):
        averaged = list(self.model.parameters()) + list(self.model.buffers())
        current = list(model.parameters()) + list(model.buffers())
        return zip(averaged, current)

    def _copy(self, model):
        for average, current in self._pairs(model):
            average.array[...] = current.array

    def update(self, model):
        if self.updates == 0:
            self._copy(model)
        else:
            for average, current in self._pairs(model):
                if average.array.dtype.kind == "f":
                    average.array *= self.decay
                    average.array += (1 - self.decay) * current.array
                else:
                    average.array[...] = current.array
        self.updates += 1


def mixup(images, labels, alpha, rng):
    """Mixup (Zhang et al. 2018): each image blended with a partner from the same batch.

        lam ~ Beta(alpha, alpha),   x = lam * x + (1 - lam) * x[partner],   partner a random permutation

    Returns (mixed images, the partners' labels, lam); the loss is then lam * CE(logits, labels) +
    (1 - lam) * CE(logits, partner labels), as in the paper's code. `rng` (a NumPy Generator) makes every draw
    reproducible, so that a resumed run mixes the same pairs.
    """
    lam = float(rng.beta(alpha, alpha))  # a Python float keeps the float32 images float32
    partner = rng.permutation(len(labels.array))
    xp = get_array_module(images.array)
    partner = xp.asarray(partner)
    mixed = lam * images.array + (1 - lam) * images.array[partner]
    return tg.Tensor(mixed, device=images.device), tg.Tensor(labels.array[partner], device=labels.device), lam
