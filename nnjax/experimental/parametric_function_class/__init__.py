"""Parametric functions as classes holding their parameters, as
``nnabla.experimental.parametric_function_class``: a layer is built once with its
shapes and initializers, keeps its parameters as attributes (not in the global
parameter scope) and is called on inputs. ``Module`` gathers, saves and loads the
parameters of a layer and the layers it holds."""
from .module import Module
from .affine import Affine, Linear
from .convolution import Convolution, Conv1d, Conv2d, Conv3d, ConvNd
from .deconvolution import Deconvolution, Deconv1d, Deconv2d, Deconv3d, DeconvNd
from .batch_normalization import BatchNormalization, BatchNorm1d, BatchNorm2d, BatchNorm3d
from .embed import Embed
