"""Parametric function definitions, one module per family; see ``nnjax.parametric_functions``."""
