"""Graph-level entry points: ``nn.forward_all`` and ``nn.grad``."""
from ._forward import forward
from ._grad import grad_variables


def forward_all(variables, clear_buffer=False, clear_no_need_grad=False,
                function_pre_hook=None, function_post_hook=None):
    """Forward several outputs at once, computing shared parts once."""
    variables = list(variables)
    if not variables:
        return
    forward(variables, clear_buffer=clear_buffer, clear_no_need_grad=clear_no_need_grad,
            function_pre_hook=function_pre_hook,
            function_post_hook=function_post_hook)


def grad(outputs, inputs, grad_outputs=None, persistent_outputs=None, bind_grad_output=False):
    """Gradients of ``outputs`` w.r.t. ``inputs``, as new Variables of a graph.

    The returned Variables are outputs of a ``Grad`` node computed by
    ``jax.vjp`` of the subgraph, so they can be used (and differentiated)
    like any other Variable.
    """
    return grad_variables(outputs, inputs, grad_outputs, persistent_outputs)
