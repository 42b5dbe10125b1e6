"""PyTorch's text-classification tutorial model: the tokens of each text averaged by an EmbeddingBag (the texts
concatenated into one 1-D tensor, `offsets` marking where each begins), a Linear layer to class scores, the
tutorial's init_weights, cross-entropy and SGD(lr=5)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB = 30
N_CLASSES = 4


class TextClassificationModel(nn.Module):
    def __init__(self, vocab_size=VOCAB, embed_dim=16, num_class=N_CLASSES):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim, sparse=False)
        self.fc = nn.Linear(embed_dim, num_class)
        self.init_weights()

    def init_weights(self):
        initrange = 0.5
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.fc.weight.data.uniform_(-initrange, initrange)
        self.fc.bias.data.zero_()

    def forward(self, text, offsets):
        embedded = self.embedding(text, offsets)
        return self.fc(embedded)


def build_model():
    return TextClassificationModel()


def make_batch(rng):
    lengths = rng.integers(1, 9, size=8)                  # 8 texts of 1 to 8 tokens
    text = rng.integers(0, VOCAB, size=int(lengths.sum()))
    labels = rng.integers(0, N_CLASSES, size=8)
    return text, lengths, labels


def compute_loss(model, batch):
    text, lengths, labels = batch
    # The tutorial's collate_batch: offsets = [0] + the lengths, cumulated, without the last.
    offsets = torch.tensor([0] + lengths[:-1].tolist()).cumsum(dim=0)
    logits = model(torch.tensor(text), offsets)
    return logits, F.cross_entropy(logits, torch.tensor(labels))


def make_optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=5)
