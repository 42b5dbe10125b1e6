"""Neural-network building blocks: `Module` and the layers (this package), the math in `nn.functional`.

    import tinygrad_bn.nn as nn
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(8 * 16 * 16, 2))
"""
from . import functional, init, utils
from .activation import (ELU, GELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSoftmax, ReLU6, Sigmoid, SiLU,
                         Softmax, Softplus, Tanh)
from .activation import (CELU, GLU, SELU, Hardshrink, LogSigmoid, Mish, PReLU, Softmin, Softshrink, Softsign,
                         Tanhshrink, Threshold)
from .layers import AdaptiveMaxPool1d, AdaptiveMaxPool2d, ChannelShuffle, Dropout1d
from .layers import (AdaptiveAvgPool1d, AvgPool1d, CircularPad1d, CircularPad2d, ConstantPad1d, ConstantPad2d,
                     Conv1d, Fold, MaxPool1d, PixelShuffle, PixelUnshuffle, ReflectionPad1d, ReflectionPad2d,
                     ReplicationPad1d, ReplicationPad2d, Unfold, ZeroPad1d, ZeroPad2d)
from .layers import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Dropout,
                     Dropout2d, Flatten, Identity, Linear, MaxPool2d, ReLU, Unflatten, Upsample, UpsamplingBilinear2d,
                     UpsamplingNearest2d)
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
from .loss import CTCLoss, KLDivLoss
from .loss import (CosineEmbeddingLoss, GaussianNLLLoss, HingeEmbeddingLoss, MarginRankingLoss,
                   MultiLabelSoftMarginLoss, MultiMarginLoss, PoissonNLLLoss, SoftMarginLoss, TripletMarginLoss)
from .distance import CosineSimilarity, PairwiseDistance
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .module import Module, Parameter
from .normalization import GroupNorm, InstanceNorm1d, InstanceNorm2d, LayerNorm, RMSNorm
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .transformer import (MultiheadAttention, Transformer, TransformerDecoder, TransformerDecoderLayer,
                          TransformerEncoder, TransformerEncoderLayer)
from .sparse import Embedding, EmbeddingBag

__all__ = ["Module", "Parameter", "Sequential", "Linear", "Conv2d", "BatchNorm1d", "BatchNorm2d", "ReLU", "MaxPool2d",
           "AvgPool2d", "AdaptiveAvgPool2d", "Flatten", "Dropout", "Identity", "functional", "init",
           # added for PyTorch code (see README, Coming from PyTorch)
           "ModuleList", "ModuleDict", "Unflatten", "Dropout2d", "Embedding", "LayerNorm", "GroupNorm",
           "Tanh", "Sigmoid", "ReLU6", "Hardtanh", "LeakyReLU", "ELU", "GELU", "SiLU", "Hardswish", "Hardsigmoid",
           "Softplus", "Softmax", "LogSoftmax", "utils",
           "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss", "L1Loss", "SmoothL1Loss",
           "HuberLoss",
           "KLDivLoss", "CTCLoss",
           # convolution and upsampling variants (groups, dilation, transposed convolution, interpolation)
           "ConvTranspose2d", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d",
           # 1-D layers, padding layers, image ops
           "Conv1d", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d", "ReflectionPad1d", "ReflectionPad2d",
           "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d", "CircularPad2d", "ConstantPad1d", "ConstantPad2d",
           "ZeroPad1d", "ZeroPad2d", "PixelShuffle", "PixelUnshuffle", "InstanceNorm1d", "InstanceNorm2d", "Unfold",
           "Fold",
           # recurrent layers and attention, composed from the ops above (nn/rnn.py, nn/transformer.py)
           "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "RNNBase", "RNN", "LSTM", "GRU", "MultiheadAttention",
           "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer", "TransformerDecoder",
           "Transformer",
           # parameter containers, RMSNorm, more activations, channel dropout and shuffle, adaptive max pooling
           "ParameterList", "ParameterDict", "RMSNorm", "PReLU", "Mish", "SELU", "CELU", "GLU", "LogSigmoid",
           "Softsign", "Softmin", "Tanhshrink", "Threshold", "Hardshrink", "Softshrink", "Dropout1d", "ChannelShuffle",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
           # distances and the losses built on them (nn/distance.py, nn/loss.py)
           "CosineSimilarity", "PairwiseDistance", "MarginRankingLoss", "HingeEmbeddingLoss", "SoftMarginLoss",
           "MultiLabelSoftMarginLoss", "MultiMarginLoss", "CosineEmbeddingLoss", "TripletMarginLoss",
           "PoissonNLLLoss", "GaussianNLLLoss",
           # what PyTorch's text-classification tutorial uses (nn/sparse.py)
           "EmbeddingBag"]
