"""Where the model zoo keeps its files (``nnabla.models.utils``), as NNabla's."""
import os

from ..logger import logger
from ..utils.download import get_data_home

DEFAULT_URL_BASE = "https://nnabla.org/pretrained-models/nnp_models/"


def get_model_home():
    """``<data home>/nnp_models`` (``~/nnabla_data/nnp_models``), created if needed."""
    d = os.path.join(get_data_home(), "nnp_models")
    os.makedirs(d, exist_ok=True)
    return d


def get_model_url_base_from_env():
    """``NNABLA_MODELS_URL_BASE`` when set, else None."""
    return os.environ.get("NNABLA_MODELS_URL_BASE", None)


def get_model_url_base():
    """The URL folder models are fetched from (``NNABLA_MODELS_URL_BASE`` overrides)."""
    url_base = get_model_url_base_from_env()
    if url_base is not None:
        logger.info(f"NNABLA_MODELS_URL_BASE is set as {url_base}.")
        return url_base
    return DEFAULT_URL_BASE
