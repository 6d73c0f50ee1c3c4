"""Function definitions grouped by NNabla's categories.

Each module holds, for its functions, the lowering rule (registered under
NNabla's type name) next to the public wrapper with NNabla's signature.
"""
