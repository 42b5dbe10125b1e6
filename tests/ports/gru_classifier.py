"""A sequence classifier: token embeddings, a GRU over the sequence, its last hidden state through a linear layer to
class scores (is the sum of the digits even or odd?), cross-entropy, SGD with momentum."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB = 10  # the digits 0-9
SEQ_LEN = 7
N_CLASSES = 2


class GRUClassifier(nn.Module):
    def __init__(self, vocab_size=VOCAB, embed_dim=8, hidden_size=12, num_classes=N_CLASSES):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.gru = nn.GRU(embed_dim, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        embedded = self.embedding(x)        # (B, T, E)
        output, hidden = self.gru(embedded)  # output: (B, T, H); hidden: (num_layers, B, H)
        return self.fc(hidden[-1])          # the last layer's state after the last step


def build_model():
    return GRUClassifier()


def make_batch(rng):
    digits = rng.integers(0, VOCAB, size=(16, SEQ_LEN))
    labels = digits.sum(axis=1) % N_CLASSES
    return digits, labels


def compute_loss(model, batch):
    digits, labels = batch
    logits = model(torch.tensor(digits))
    return logits, F.cross_entropy(logits, torch.tensor(labels))


def make_optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
