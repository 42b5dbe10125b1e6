"""Next-value prediction on sine waves (PyTorch's time-sequence-prediction example, smaller): two nn.LSTMCell layers
unrolled by hand over time, a linear read-out of the top cell's hidden state at each step, and L-BFGS, which calls
a closure (forward, loss, backward) several times within one step(): a quasi-Newton method suits this small,
smooth, full-batch problem. After each step, the model continues each wave for a few steps past its end, feeding its
own predictions back in (under no_grad)."""
import torch
import torch.nn as nn
import torch.optim as optim


class Sequence(nn.Module):
    def __init__(self, hidden=12):
        super().__init__()
        self.hidden = hidden
        self.lstm1 = nn.LSTMCell(1, hidden)
        self.lstm2 = nn.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, 1)

    def forward(self, input, future=0):
        outputs = []
        # zero initial states, in the input's dtype (the example trains in double)
        h_t = torch.zeros(input.size(0), self.hidden, dtype=input.dtype)
        c_t = torch.zeros(input.size(0), self.hidden, dtype=input.dtype)
        h_t2 = torch.zeros(input.size(0), self.hidden, dtype=input.dtype)
        c_t2 = torch.zeros(input.size(0), self.hidden, dtype=input.dtype)

        for input_t in input.split(1, dim=1):  # one (N, 1) column per time step
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for i in range(future):  # predict the future: the last prediction is the next input
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        return torch.cat(outputs, dim=1)


def build_model():
    return Sequence()


def make_batch(rng):
    """Each wave's phase: a random shift of its start, as the example draws (it then builds the waves with sin)."""
    return (rng.integers(-16, 16, (5, 1)).astype("float32"),)


def run_training(model, batch, steps=2, future=4):
    (shifts,) = batch
    shifts = torch.tensor(shifts)
    t = torch.arange(24, dtype=shifts.dtype)
    data = torch.sin((t + 4 * shifts) / 4.0)  # (5, 24): a period is 8*pi samples
    input, target = data[1:, :-1], data[1:, 1:]  # train on four waves: each step predicts the next value
    test_input, test_target = data[:1, :-1], data[:1, 1:]  # the first wave is held out
    criterion = nn.MSELoss()
    # max_iter=4 (the default is 20): each step() runs at most 4 L-BFGS iterations; two steps
    # continue one curvature history, as eight iterations in one step would
    optimizer = optim.LBFGS(model.parameters(), lr=0.8, max_iter=4)
    log = []
    for i in range(steps):
        def closure():
            optimizer.zero_grad()
            out = model(input)
            loss = criterion(out, target)
            log.append(loss.item())
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            pred = model(test_input, future=future)
            loss = criterion(pred[:, :-future], test_target)
            log.append(loss.item())
            log += pred[0, -future:].tolist()  # the continuation past the end of the wave
    return log
