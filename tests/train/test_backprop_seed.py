"""The single-neuron backpropagation example of the seed text, reproduced with torch autograd.

y = w * x, x = 1, target 1, loss L = 1/2 (y_true - y_pred)^2, learning rate 0.1, w starts at 0.5.
dL/dw = (y_pred - y_true) * x, so w <- w - 0.1 (w - 1): 0.55, 0.595, 0.6355, 0.67195, 0.704755.
The seed (and the issue) print the losses 0.125, 0.10125, 0.0815125, 0.0664351, 0.053808. Two of
them carry arithmetic slips in the seed's squaring: 0.405^2 is 0.164025, not 0.163025, so the
third loss is 0.0820125; 0.3645^2 is 0.13286025, not 0.13287025, so the fourth is 0.066430125.
The test checks autograd against the exact values and the seed's printed ones to within 1e-3.
"""

from __future__ import annotations

import pytest
import torch

WEIGHTS = [0.55, 0.595, 0.6355, 0.67195, 0.704755]
SEED_LOSSES = [0.125, 0.10125, 0.0815125, 0.0664351, 0.053808]
EXACT_LOSSES = [0.125, 0.10125, 0.0820125, 0.066430125, 0.0538084012]


def run_single_neuron(iterations: int = 5) -> tuple[list[float], list[float], list[float]]:
    """Plain gradient descent on one weight; returns weights, losses and gradients per iteration."""
    w = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    x, y_true, lr = torch.tensor(1.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64), 0.1
    weights, losses, grads = [], [], []
    for _ in range(iterations):
        y_pred = w * x
        loss = 0.5 * (y_true - y_pred) ** 2
        loss.backward()
        assert w.grad is not None
        grads.append(w.grad.item())
        with torch.no_grad():
            w -= lr * w.grad
        w.grad.zero_()
        weights.append(w.item())
        losses.append(loss.item())
    return weights, losses, grads


def test_weights_and_losses_match_the_seed_example() -> None:
    weights, losses, _ = run_single_neuron()
    assert weights == pytest.approx(WEIGHTS, abs=1e-9)
    assert losses == pytest.approx(EXACT_LOSSES, abs=1e-10)
    assert losses == pytest.approx(SEED_LOSSES, abs=1e-3)
    assert losses[-1] == pytest.approx(0.053808, abs=5e-7)


def test_autograd_gradient_is_the_chain_rule() -> None:
    """dL/dw = (y_pred - y_true) * x, e.g. -0.5 at w = 0.5."""
    weights, _, grads = run_single_neuron()
    before = [0.5, *weights[:-1]]
    assert grads == pytest.approx([(w - 1.0) * 1.0 for w in before], abs=1e-12)
    assert grads[0] == pytest.approx(-0.5)


def test_sgd_optimizer_gives_the_same_trajectory() -> None:
    """torch.optim.SGD (what SB3's optimizers generalize) performs the same update."""
    layer = torch.nn.Linear(1, 1, bias=False).double()
    torch.nn.init.constant_(layer.weight, 0.5)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    x = torch.ones(1, 1, dtype=torch.float64)
    weights = []
    for _ in range(5):
        loss = 0.5 * torch.nn.functional.mse_loss(layer(x), torch.ones(1, 1, dtype=torch.float64))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        weights.append(layer.weight.item())
    assert weights == pytest.approx(WEIGHTS, abs=1e-9)
