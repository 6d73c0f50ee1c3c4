"""The ``.nnp`` exchange format (``nnabla.utils.nnp_format``).

An ``.nnp`` file is a zip archive holding ``nnp_version.txt`` (the version
string below), ``network.nntxt`` (protobuf text: networks, executors ...) and
the parameters as ``parameter.h5`` or ``parameter.protobuf``. Other members
are ignored when it is read.
"""


def nnp_version():
    """The version string written to ``nnp_version.txt`` ("0.1", as NNabla's)."""
    return "0.1"
