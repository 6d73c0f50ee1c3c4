"""Finding a model's ``.nnp`` file, offline first.

Looked for in order: an explicit path, ``$NNABLA_MODELS_DIR/<rel_path>``,
NNabla's cache ``~/nnabla_data/nnp_models/<rel_path>``; only then fetched from
its URL into that cache (a temporary file, checked, then renamed). A file that
is not a complete model archive is refused, never silently reused.
"""
import os
import time
import urllib.error
import urllib.request
import zipfile

from ..logger import logger
from ..utils import download as dl
from .utils import get_model_home

ENV_MODELS_DIR = "NNABLA_MODELS_DIR"


class ModelFileError(OSError):
    """A model file that cannot be found, fetched or read."""


def nnp_problem(path):
    """Why ``path`` is not a usable ``.nnp`` archive (None when it is)."""
    try:
        size = os.path.getsize(path)
    except OSError as e:
        return f"cannot read it ({e.strerror})"
    if not zipfile.is_zipfile(path):
        return f"it is not a complete .nnp (zip) archive ({size} bytes; truncated or not a model)"
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        return f"its zip directory is unreadable ({e})"
    if not any(n.endswith((".nntxt", ".prototxt")) for n in names):
        return f"it holds no network (.nntxt/.prototxt), only {names[:5]}"
    if not any(n.endswith((".h5", ".protobuf")) for n in names):
        return f"it holds no parameters (.h5/.protobuf), only {names[:5]}"
    return None


def _crc_problem(path):
    with zipfile.ZipFile(path) as z:
        bad = z.testzip()
    return None if bad is None else f"its member {bad!r} is corrupt (CRC mismatch)"


def candidate_paths(rel_path, path=None):
    """[(where, path)] in lookup order."""
    found = []
    if path is not None:
        found.append(("explicit path", os.fspath(path)))
    env_dir = os.environ.get(ENV_MODELS_DIR)
    if env_dir:
        found.append((f"${ENV_MODELS_DIR}", os.path.join(env_dir, rel_path)))
    found.append(("NNabla's cache", os.path.join(get_model_home(), rel_path)))
    return found


def _refuse(path, problem, url):
    raise ModelFileError(
        f"model file {path} is not usable: {problem}. Remove it and fetch it again from {url} "
        "(or put a complete copy there).")


def locate_nnp(rel_path, url, path=None, allow_download=True):
    """The path of a usable ``.nnp`` for ``rel_path``, fetching it from ``url`` if needed."""
    places = candidate_paths(rel_path, path)
    for where, p in places:
        if os.path.exists(p):
            problem = nnp_problem(p)
            if problem is not None:
                _refuse(p, problem, url)
            logger.info(f"models: using {p} ({where})")
            return p
        if where == "explicit path":
            raise ModelFileError(f"model file {p} (given explicitly) does not exist")
    target = places[-1][1]
    looked = "; ".join(f"{w}: {p}" for w, p in places)
    if not allow_download:
        raise ModelFileError(f"model file {rel_path} not found (looked in {looked}); "
                             f"download it from {url} to {target}")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    part = f"{target}.download{os.getpid()}"
    start = time.time()
    try:
        _fetch(url, part)
    except (urllib.error.URLError, OSError, ValueError) as e:
        if os.path.exists(part):
            os.remove(part)
        reason = getattr(e, "reason", e)
        raise ModelFileError(
            f"model file {rel_path} not found (looked in {looked}) and it could not be "
            f"downloaded from {url} after {time.time() - start:.1f} s ({reason}). Without "
            f"network access, fetch {url} elsewhere and put it at {target} "
            f"(or in ${ENV_MODELS_DIR}/{rel_path}).") from None
    problem = nnp_problem(part) or _crc_problem(part)
    if problem is not None:
        os.remove(part)
        raise ModelFileError(f"the file downloaded from {url} is not usable: {problem}")
    os.replace(part, target)
    return target


def _fetch(url, path):
    """Copy ``url`` into ``path``; every wait is bounded by the download timeout."""
    logger.info(f"models: downloading {url}")
    with urllib.request.urlopen(url, timeout=dl.TIMEOUT_SECONDS) as response, \
            open(path, "wb") as out:
        while True:
            chunk = response.read(1 << 20)
            if not chunk:
                break
            out.write(chunk)
