"""Word-level language models as PyTorch's word_language_model example builds them (written anew here): an
RNNModel whose recurrent layer is picked by name (`getattr(nn, rnn_type)`: LSTM, GRU, or RNN with tanh), tied
encoder/decoder weights, a TransformerModel with a sinusoidal PositionalEncoding buffer and a causal mask made with
torch.log(torch.tril(...)); the corpus cut into batches with narrow/view/t().contiguous(), truncated
backpropagation through time with hidden states detached between chunks, gradient clipping with
torch.nn.utils.clip_grad_norm_ and a hand-written SGD step (p.data.add_(p.grad, alpha=-lr)), as the example does."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB = 23
EMBED, HIDDEN, LAYERS, HEADS = 12, 12, 2, 2
BPTT, BATCH, CLIP, LR = 5, 3, 0.25, 2.0


class RNNModel(nn.Module):
    """Encoder (embedding), a recurrent module, decoder (linear); the decoder shares the encoder's weight."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type in ("LSTM", "GRU"):
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        else:
            nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.decoder.weight = self.encoder.weight  # weight tying (needs nhid == ninp)
        self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(self.drop(output)).view(-1, self.decoder.out_features)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == "LSTM":
            return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


class PositionalEncoding(nn.Module):
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...), added to the embeddings."""

    def __init__(self, d_model, dropout=0.1, max_len=64):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(0).transpose(0, 1))  # (max_len, 1, d_model)

    def forward(self, x):
        return self.dropout(x + self.pe[:x.size(0), :])


class TransformerModel(nn.Module):
    def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
        super().__init__()
        self.src_mask = None
        self.pos_encoder = PositionalEncoding(ninp, dropout)
        layer = nn.TransformerEncoderLayer(ninp, nhead, nhid, dropout)
        self.transformer_encoder = nn.TransformerEncoder(layer, nlayers, enable_nested_tensor=False)
        self.input_emb = nn.Embedding(ntoken, ninp)
        self.ninp = ninp
        self.decoder = nn.Linear(ninp, ntoken)
        nn.init.uniform_(self.input_emb.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    @staticmethod
    def _generate_square_subsequent_mask(sz):
        return torch.log(torch.tril(torch.ones(sz, sz)))  # 0 on and below the diagonal, -inf above

    def forward(self, src):
        if self.src_mask is None or self.src_mask.size(0) != len(src):
            self.src_mask = self._generate_square_subsequent_mask(len(src)).to(src.device)
        src = self.input_emb(src) * math.sqrt(self.ninp)
        src = self.pos_encoder(src)
        output = self.transformer_encoder(src, self.src_mask)
        return F.log_softmax(self.decoder(output), dim=-1)


class LanguageModels(nn.Module):
    """The example's four choices of --model side by side, so one port trains each of them."""

    def __init__(self):
        super().__init__()
        self.lstm = RNNModel("LSTM", VOCAB, EMBED, HIDDEN, LAYERS)
        self.gru = RNNModel("GRU", VOCAB, EMBED, HIDDEN, LAYERS)
        self.rnn_tanh = RNNModel("RNN_TANH", VOCAB, EMBED, HIDDEN, LAYERS)
        self.transformer = TransformerModel(VOCAB, EMBED, HEADS, 2 * HIDDEN, LAYERS)


def batchify(data, bsz):
    """The token stream as bsz columns: (tokens // bsz, bsz); the leftover tokens are dropped."""
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def get_batch(source, i):
    seq_len = min(BPTT, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].reshape(-1)


def repackage_hidden(h):
    """Detach hidden states from their history: backpropagation stops at the chunk boundary."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def build_model():
    return LanguageModels()


def make_batch(rng):
    return (rng.integers(0, VOCAB, 3 * BPTT * BATCH + 2),)  # the corpus: one stream of token ids


def train_one(model, train_data, is_transformer):
    model.train()
    losses = []
    hidden = None if is_transformer else model.init_hidden(BATCH)
    for i in range(0, train_data.size(0) - 1, BPTT):
        data, targets = get_batch(train_data, i)
        model.zero_grad()
        if is_transformer:
            output = model(data).view(-1, VOCAB)
        else:
            hidden = repackage_hidden(hidden)
            output, hidden = model(data, hidden)
        loss = nn.NLLLoss()(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-LR)
        losses.append(loss.item())
    return losses


def run_training(model, batch):
    (corpus,) = batch
    train_data = batchify(torch.tensor(corpus), BATCH)
    log = []
    for name in ("lstm", "gru", "rnn_tanh", "transformer"):
        log += train_one(getattr(model, name), train_data, name == "transformer")
    return log
