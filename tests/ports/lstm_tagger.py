"""A part-of-speech tagger: word embeddings, a 2-layer bidirectional LSTM over the sentence, a linear layer per token
to tag scores, cross-entropy over the tags (padding positions ignored), Adam."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SENTENCES = [
    ("the dog ate the apple", "DET NN V DET NN"),
    ("everybody read that book", "NN V DET NN"),
    ("the cat sat", "DET NN V"),
    ("a dog read a book", "DET NN V DET NN"),
]
WORDS = ["<pad>"] + sorted({w for sentence, _ in SENTENCES for w in sentence.split()})
TAGS = ["DET", "NN", "V"]
WORD_TO_IX = {w: i for i, w in enumerate(WORDS)}
TAG_TO_IX = {t: i for i, t in enumerate(TAGS)}
PAD_TAG = -100  # cross_entropy's default ignore_index: padded tokens add nothing to the loss


class LSTMTagger(nn.Module):
    def __init__(self, vocab_size, tagset_size, embedding_dim=8, hidden_dim=6):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, num_layers=2, bidirectional=True, batch_first=True,
                            dropout=0.1)
        self.hidden2tag = nn.Linear(2 * hidden_dim, tagset_size)  # forward and backward states, concatenated

    def forward(self, sentence):
        embeds = self.word_embeddings(sentence)   # (B, T, E)
        lstm_out, (h_n, c_n) = self.lstm(embeds)  # (B, T, 2H); h_n, c_n: (num_layers * 2, B, H)
        return self.hidden2tag(lstm_out)          # (B, T, tags)


def encode(pairs):
    length = max(len(sentence.split()) for sentence, _ in pairs)
    words = np.zeros((len(pairs), length), dtype=np.int64)
    tags = np.full((len(pairs), length), PAD_TAG, dtype=np.int64)
    for row, (sentence, tag_line) in enumerate(pairs):
        for col, (w, t) in enumerate(zip(sentence.split(), tag_line.split())):
            words[row, col], tags[row, col] = WORD_TO_IX[w], TAG_TO_IX[t]
    return words, tags


def build_model():
    return LSTMTagger(len(WORDS), len(TAGS))


def make_batch(rng):
    order = rng.permutation(len(SENTENCES))
    return encode([SENTENCES[i] for i in order])


def compute_loss(model, batch):
    words, tags = batch
    tag_scores = model(torch.tensor(words))
    loss = F.cross_entropy(tag_scores.view(-1, len(TAGS)), torch.tensor(tags).view(-1), ignore_index=PAD_TAG)
    return tag_scores, loss


def make_optimizer(model):
    return torch.optim.Adam(model.parameters(), lr=1e-3)
