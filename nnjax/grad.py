"""``nnabla.grad``: gradients as new graph Variables (``nn.grad``)."""
from ._graph_api import grad

__all__ = ["grad", "Grad"]


class Grad:
    """NNabla's callable behind ``nn.grad``: ``Grad()(outputs, inputs,
    grad_outputs=None, persistent_outputs=[], bind_grad_output=False)``
    returns what ``nn.grad`` does for the same arguments."""

    def __call__(self, outputs, inputs, grad_outputs=None, persistent_outputs=[],
                 bind_grad_output=False):
        return grad(outputs, inputs, grad_outputs=grad_outputs,
                    persistent_outputs=persistent_outputs, bind_grad_output=bind_grad_output)
