"""NNP files in and out of the converter (``nnabla.utils.converter.nnabla``)."""
from .importer import NnpImporter
from .exporter import NnpExporter
from .expander import NnpExpander

__all__ = ["NnpImporter", "NnpExporter", "NnpExpander"]
