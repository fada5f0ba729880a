"""The `backprop` assignment: forward/backward pairs, two losses, an MLP and a tanh RNN, by tensor ops only."""

from __future__ import annotations

from autograder.checks.backprop_layers import CROSS_ENTROPY, LINEAR, MSE, RELU, SIGMOID, TANH
from autograder.checks.backprop_nets import MLP, RNN
from autograder.checks.builder import build
from autograder.checks.spec import Assignment

FORBIDDEN = ("torch.autograd", "Tensor.backward", "torch.func", "torch.optim")
SPECS = (LINEAR, RELU, SIGMOID, TANH, CROSS_ENTROPY, MSE, MLP, RNN)

ASSIGNMENT = Assignment(id="backprop", notebook="backprop.ipynb", questions=tuple(build(s) for s in SPECS),
                        manual=("rnn_gradient_explanation",), forbidden=FORBIDDEN)
