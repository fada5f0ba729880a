"""Reference kernels: thin, typed wrappers over torch.autograd, torch.optim and torch.nn.utils.clip_grad_*.

Everything computes in float64 on the input's device and never mutates its inputs; bad input raises
ValueError naming the argument. One concept per module: autodiff (vjp, losses, MLP), rnn, optimizers,
clipping.
"""

from autograder.reference.autodiff import mlp_loss_and_grads, mse_loss, softmax_cross_entropy, vjp
from autograder.reference.clipping import clip_grad_norm, clip_grad_value, grad_norm
from autograder.reference.optimizers import optimizer_trajectory
from autograder.reference.rnn import rnn_backward, rnn_forward

__all__ = [
    "clip_grad_norm", "clip_grad_value", "grad_norm", "mlp_loss_and_grads", "mse_loss",
    "optimizer_trajectory", "rnn_backward", "rnn_forward", "softmax_cross_entropy", "vjp",
]
