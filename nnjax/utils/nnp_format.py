"""The ``.nnp`` format's version, as ``nnabla.utils.nnp_format``: a ZIP archive of
``nnp_version.txt``, network definitions (``.nntxt``/``.prototxt``) and
parameters (``.protobuf`` or ``.h5``)."""


def nnp_version():
    """The version written into ``nnp_version.txt`` ("0.1")."""
    return "0.1"
