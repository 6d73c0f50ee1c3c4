"""An MLflow model flavor for NNabla models (``nnabla.mlflow_save_load_model``).

An MLflow model of this flavor is a directory holding the ``MLmodel`` file and::

    model/<model file>          the model itself (a parameter file .h5/.protobuf, or an .nnp)
    nnp_files/<...>.nnp         networks saved with nnabla.utils.save (``nnp=[...]``)
    checkpoint_files/<...>      checkpoint files (``checkpoint=[...]``)
    extra_files/<...>           anything else (``extra_files=[...]``)
    <config file>               ``config_file=...``, copied beside MLmodel

``log_model(name, path, ...)`` logs the file ``path/name`` as an MLflow model named ``path``
in the active run; ``save_model`` writes the same directory locally. ``load_model(uri)``
returns the local path of the model file (``model='nnp'`` / ``'checkpoint'``: the lists of
those files, ``model='MLmodel'``: the model directory), as NNabla's flavor does.

``mlflow.pyfunc.load_model(uri).predict(data)`` runs the model: the network of the first
.nnp file (its first executor's network, inputs and outputs when it has executors, else its
first network) is rebuilt with nnabla.utils.nnp_graph, its parameters replaced by the model
file's when that is a parameter file, and fed ``data``: an array (one input), a dict of
input name -> array, or a pandas DataFrame (columns named after inputs, or the rows of the
single input). One output comes back as an array, several as a dict. ``predict(None)``
returns None (no data, no prediction).

MLflow 3 logs models as "logged models": ``log_model`` returns MLflow 3's ModelInfo (its
``model_uri`` is ``models:/<model id>``); ``runs:/<run id>/<path>`` still loads the model.
NNabla's users log to file stores, which newer MLflow refuses unless
``MLFLOW_ALLOW_FILE_STORE`` is set; importing this module sets it when the user has not.
"""
import inspect
import logging
import os
import posixpath
import shutil
import sys
import tempfile
import unittest.mock as mock
import urllib.parse

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
import numpy as np  # noqa: E402
import yaml  # noqa: E402

import mlflow  # noqa: E402
from mlflow import MlflowClient, pyfunc  # noqa: E402
from mlflow.models import Model, ModelInputExample, ModelSignature, infer_signature  # noqa: E402
from mlflow.models.model import MLMODEL_FILE_NAME  # noqa: E402
from mlflow.models.utils import _save_example  # noqa: E402
from mlflow.tracking.artifact_utils import _download_artifact_from_uri  # noqa: E402
from mlflow.tracking.fluent import _get_experiment_id  # noqa: E402
from mlflow.utils.environment import (  # noqa: E402
    _CONDA_ENV_FILE_NAME,
    _CONSTRAINTS_FILE_NAME,
    _PYTHON_ENV_FILE_NAME,
    _REQUIREMENTS_FILE_NAME,
    _mlflow_conda_env,
    _process_conda_env,
    _process_pip_requirements,
    _PythonEnv,
    _validate_env_arguments,
)
from mlflow.utils.model_utils import (  # noqa: E402
    _add_code_from_conf_to_system_path,
    _get_flavor_configuration,
    _validate_and_copy_code_paths,
)
from mlflow.utils.requirements_utils import _get_pinned_requirement  # noqa: E402

import nnjax  # noqa: E402
from . import parameter as P  # noqa: E402
from .utils.nnp_graph import NnpLoader  # noqa: E402

FLAVOR_NAME = "nnabla"
_EXTRA_FILES_KEY = "extra_files"
_REQUIREMENTS_FILE_KEY = "requirements_file"
_NNP_FILES_KEY = "nnp_files"
_CHECKPOINT_FILES_KEY = "checkpoint_files"
_LOADER_MODULE = "nnabla.mlflow_save_load_model"
_MODEL_DATA_SUBPATH = "model"
_PARAMETER_EXTENSIONS = (".h5", ".protobuf")

_logger = logging.getLogger(__name__)
# MLflow 3 names a logged model (``name``); MLflow 2 placed it at ``artifact_path``
_LOG_TAKES_NAME = "name" in inspect.signature(Model.log).parameters


def get_default_pip_requirements():
    """The pip requirements every model of this flavor gets: the package that provides
    ``nnabla`` here (nnjax), pinned to the running version when it is installed."""
    try:
        return [_get_pinned_requirement("nnjax")]
    except Exception:  # running from a source tree that pip does not know
        return ["nnjax"]


def get_default_conda_env():
    """The conda environment ``save_model``/``log_model`` write when given none."""
    return _mlflow_conda_env(additional_pip_deps=get_default_pip_requirements())


def log_model(nnabla_model_name, path, nnp=None, checkpoint=None, config_file=None,
              extra_files=None, conda_env=None, code_paths=None,
              signature: ModelSignature = None, input_example: ModelInputExample = None,
              pip_requirements=None, extra_pip_requirements=None, metadata=None):
    """Log the model file ``path/nnabla_model_name`` as an MLflow model named ``path`` in
    the active run (one is started when none is). The other arguments are
    ``save_model``'s. Returns MLflow's ``ModelInfo`` (MLflow 3: its ``model_uri`` is
    ``models:/<model id>``; ``runs:/<run id>/<path>`` loads the same model)."""
    source = _model_source(nnabla_model_name, path, "log_model")
    where = {"artifact_path": None, "name": path} if _LOG_TAKES_NAME else \
        {"artifact_path": path}
    return Model.log(
        **where,
        flavor=_this_module(),
        nnabla_model_name=source,
        nnp=nnp,
        checkpoint=checkpoint,
        config_file=config_file,
        extra_files=extra_files,
        conda_env=conda_env,
        code_paths=code_paths,
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
    )


def _this_module():
    return sys.modules[__name__]


def _model_source(name, folder, caller):
    """The model file ``folder/name`` (NNabla's flavor reads the model from the folder the
    model is logged as), or ``name`` itself when that is a file."""
    candidates = [os.path.join(str(folder), str(name))] if folder is not None else []
    candidates.append(str(name))
    for candidate in candidates:
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    raise FileNotFoundError(f"{caller}: model file {name!r} not found (looked at "
                            f"{', '.join(repr(c) for c in candidates)})")


def save_model(nnabla_model_name, path, nnp=None, checkpoint=None, config_file=None,
               extra_files=None, conda_env=None, code_paths=None, mlflow_model=None,
               signature: ModelSignature = None, input_example: ModelInputExample = None,
               pip_requirements=None, extra_pip_requirements=None, metadata=None):
    """Write the model file ``nnabla_model_name`` as an MLflow model directory ``path``.

    Args:
        nnabla_model_name: the model file (a path; a bare name is also looked up in the
            folder ``mlflow_model.artifact_path`` names, as NNabla's flavor does).
        path: the directory to create (must not exist, or be empty).
        nnp, checkpoint, extra_files: lists of files (local paths or artifact URIs) copied
            into ``nnp_files/``, ``checkpoint_files/``, ``extra_files/``.
        config_file: a file copied beside ``MLmodel``.
        conda_env, pip_requirements, extra_pip_requirements: MLflow's environment arguments.
        code_paths: files or folders prepended to ``sys.path`` when the model is loaded.
        mlflow_model: the ``mlflow.models.Model`` to add the flavor to.
        signature: the model signature; ``False`` for none. Given an ``input_example``
            and no signature, it is inferred by running the model on the example.
        input_example, metadata: stored in the model (MLflow's meaning).
    """
    _validate_env_arguments(conda_env, pip_requirements, extra_pip_requirements)
    for what, files in (("nnp", nnp), ("checkpoint", checkpoint),
                        ("extra_files", extra_files)):
        if files is not None and not isinstance(files, list):
            raise TypeError(f"save_model: {what} must be a list of files, got "
                            f"{type(files).__name__}")
    if mlflow_model is None:
        mlflow_model = Model()
    folder = mlflow_model.artifact_path
    if folder is not None and "://" in str(folder):  # MLflow 3: a logged model's location
        folder = None
    source = _model_source(nnabla_model_name, folder, "save_model")
    if config_file is not None and not os.path.isfile(config_file):
        raise FileNotFoundError(f"save_model: config_file {config_file!r} does not exist")

    path = os.path.abspath(path)
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise FileExistsError(f"save_model: path {path!r} already exists and is not empty")
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix="." + os.path.basename(path) + ".", dir=parent)
    try:
        _write_model_dir(work, source, nnp, checkpoint, config_file, extra_files, conda_env,
                         code_paths, mlflow_model, signature, input_example, pip_requirements,
                         extra_pip_requirements, metadata)
        if os.path.isdir(path):
            os.rmdir(path)
        os.replace(work, path)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _copy_files(files, root, key, what):
    """Copy ``files`` into ``root/key``; returns the flavor's [{"path": relative}] list."""
    target = os.path.join(root, key)
    os.makedirs(target, exist_ok=True)
    entries = []
    for f in files:
        f = str(f)
        if os.path.exists(f):
            if os.path.isdir(f):
                raise IsADirectoryError(f"save_model: {what} entry {f!r} is a directory; "
                                        "give files")
            shutil.copy2(f, target)
        elif _is_uri(f):
            _download_artifact_from_uri(artifact_uri=f, output_path=target)
        else:
            raise FileNotFoundError(f"save_model: {what} file {f!r} does not exist")
        entries.append({"path": posixpath.join(key, os.path.basename(f.rstrip("/")))})
    return entries


def _write_model_dir(root, source, nnp, checkpoint, config_file, extra_files, conda_env,
                     code_paths, mlflow_model, signature, input_example, pip_requirements,
                     extra_pip_requirements, metadata):
    code_subpath = _validate_and_copy_code_paths(code_paths, root)
    data_dir = os.path.join(root, _MODEL_DATA_SUBPATH)
    os.makedirs(data_dir)
    shutil.copy2(source, data_dir)
    if config_file:
        shutil.copy2(config_file, root)
    artifacts = {}
    for key, files, what in ((_CHECKPOINT_FILES_KEY, checkpoint, "checkpoint"),
                             (_NNP_FILES_KEY, nnp, "nnp"),
                             (_EXTRA_FILES_KEY, extra_files, "extra_files")):
        if files:
            artifacts[key] = _copy_files(files, root, key, what)

    if signature is None and input_example is not None:
        signature = _infer_signature(root, os.path.basename(source), artifacts, input_example)
    elif signature is False:
        signature = None
    if signature is not None:
        mlflow_model.signature = signature
    if input_example is not None:
        _save_example(mlflow_model, input_example, root)
    if metadata is not None:
        mlflow_model.metadata = metadata

    mlflow_model.add_flavor(FLAVOR_NAME, model_data=_MODEL_DATA_SUBPATH,
                            nnabla_version=str(nnjax.__version__), code=code_subpath,
                            **artifacts)
    pyfunc.add_to_model(mlflow_model, loader_module=_LOADER_MODULE,
                        data=_MODEL_DATA_SUBPATH, code=code_subpath,
                        conda_env=_CONDA_ENV_FILE_NAME, python_env=_PYTHON_ENV_FILE_NAME)
    mlflow_model.save(os.path.join(root, MLMODEL_FILE_NAME))

    # Requirements are not inferred by loading the model in a subprocess (MLflow's
    # infer_pip_requirements): nnjax, the default, already requires what loading imports.
    if conda_env is None:
        defaults = get_default_pip_requirements() if pip_requirements is None else None
        conda_env, pip_requirements, pip_constraints = _process_pip_requirements(
            defaults, pip_requirements, extra_pip_requirements)
    else:
        conda_env, pip_requirements, pip_constraints = _process_conda_env(conda_env)
    with open(os.path.join(root, _CONDA_ENV_FILE_NAME), "w") as f:
        yaml.safe_dump(conda_env, stream=f, default_flow_style=False)
    if pip_constraints:
        with open(os.path.join(root, _CONSTRAINTS_FILE_NAME), "w") as f:
            f.write("\n".join(pip_constraints))
    with open(os.path.join(root, _REQUIREMENTS_FILE_NAME), "w") as f:
        f.write("\n".join(pip_requirements))
    _PythonEnv.current().to_yaml(os.path.join(root, _PYTHON_ENV_FILE_NAME))


def _infer_signature(root, model_name, artifacts, input_example):
    model_file = os.path.join(root, _MODEL_DATA_SUBPATH, model_name)
    nnp_files = [os.path.join(root, e["path"]) for e in artifacts.get(_NNP_FILES_KEY, [])]
    wrapper = _NnablaModelWrapper(model_file, nnp_files)
    if not wrapper.runnable:
        return infer_signature(input_example)
    return infer_signature(input_example, wrapper.predict(input_example))


def _is_uri(text):
    scheme = urllib.parse.urlparse(str(text)).scheme
    return len(scheme) > 1  # a one-letter scheme is a Windows drive


def _load_model(path, **kwargs):
    """The file in the folder ``path``; for ``nnp_files``/``checkpoint_files`` folders,
    the list of their files."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"load_model: no folder {path!r} in the MLflow model")
    names = sorted(os.listdir(path))
    if os.path.basename(path.rstrip("/\\")) in (_CHECKPOINT_FILES_KEY, _NNP_FILES_KEY):
        return [os.path.join(path, n) for n in names]
    if not names:
        raise FileNotFoundError(f"load_model: the folder {path!r} of the MLflow model is empty")
    return os.path.join(path, names[0])


_LOAD_CHOICES = ("model", "MLmodel", "nnp", "checkpoint")


def load_model(model_uri, dst_path=None, **kwargs):
    """Fetch an MLflow model of the nnabla flavor and return local paths.

    Args:
        model_uri: where the model is: a local path, ``runs:/<run id>/<path>``,
            ``models:/<name>/<version>``, or any artifact URI MLflow reads.
        dst_path: an existing local folder to download into (default: a new temporary one).
        model: what to return: ``'model'`` (default) the model file's path, ``'nnp'`` or
            ``'checkpoint'`` the list of those files' paths (in the order they were
            logged), ``'MLmodel'`` the local model directory.
    """
    unknown = sorted(set(kwargs) - {"model"})
    if unknown:
        raise TypeError(f"load_model: unexpected keyword arguments {unknown}")
    choice = kwargs.get("model") or "model"
    if choice not in _LOAD_CHOICES:
        raise ValueError(f"load_model: model must be one of {list(_LOAD_CHOICES)}, "
                         f"got {choice!r}")
    if not _is_uri(model_uri) and not os.path.exists(str(model_uri)):
        raise FileNotFoundError(f"load_model: no MLflow model at {str(model_uri)!r}")
    local = _download_artifact_from_uri(artifact_uri=str(model_uri), output_path=dst_path)
    conf = _get_flavor_configuration(model_path=local, flavor_name=FLAVOR_NAME)
    _add_code_from_conf_to_system_path(local, conf)
    if choice == "MLmodel":
        return local
    if choice == "model":
        return _load_model(os.path.join(local, conf["model_data"]))
    key = _NNP_FILES_KEY if choice == "nnp" else _CHECKPOINT_FILES_KEY
    if key not in conf:
        raise FileNotFoundError(f"load_model: the model at {model_uri!r} was logged without "
                                f"{choice} files")
    return [os.path.join(local, e["path"]) for e in conf[key]]


def _load_pyfunc(path, model_config=None):
    """``mlflow.pyfunc``'s entry: ``path`` is the model's ``model`` folder."""
    root = os.path.dirname(os.path.abspath(path.rstrip("/\\")))
    conf = _get_flavor_configuration(model_path=root, flavor_name=FLAVOR_NAME)
    nnp_files = [os.path.join(root, e["path"]) for e in conf.get(_NNP_FILES_KEY, [])]
    return _NnablaModelWrapper(_load_model(path), nnp_files)


class _NnablaModelWrapper:
    """The pyfunc model: runs the network of the model's .nnp with the model's parameters."""

    def __init__(self, nnabla_model, nnp_files=()):
        self.nnabla_model = nnabla_model
        self.nnp_files = list(nnp_files)
        if str(nnabla_model).endswith(".nnp"):
            self.nnp_files.insert(0, nnabla_model)
        self._loader = None
        self._networks = {}

    @property
    def runnable(self):
        return bool(self.nnp_files)

    def get_raw_model(self):
        """The model file's local path."""
        return self.nnabla_model

    def _load(self):
        if self._loader is not None:
            return self._loader
        if not self.nnp_files:
            raise ValueError(f"predict: the model {os.path.basename(self.nnabla_model)!r} has "
                             "no network to run; log it with nnp=[<.nnp file>] (or log an "
                             ".nnp file as the model)")
        files = [self.nnp_files[0]]
        if str(self.nnabla_model).endswith(_PARAMETER_EXTENSIONS):
            files.append(self.nnabla_model)  # the model's parameters win over the nnp's
        loader = NnpLoader(files)
        executors = list(loader.proto.executor)
        if executors:
            e = executors[0]
            self._network_name = e.network_name
            self._input_names = [v.variable_name for v in e.data_variable]
            self._output_names = [v.variable_name for v in e.output_variable]
        else:
            names = loader.get_network_names()
            if not names:
                raise ValueError(f"predict: {self.nnp_files[0]!r} holds no network")
            self._network_name = names[0]
            self._input_names = self._output_names = None
        self._loader = loader
        return loader

    def _network(self, batch_size):
        net = self._networks.get(batch_size)
        if net is None:
            loader = self._load()
            with P.parameter_scope("", loader._params):
                net = loader.get_network(self._network_name, batch_size=batch_size)
            if self._input_names is None:
                self._input_names = list(net.inputs)
                self._output_names = list(net.outputs)
            self._networks[batch_size] = net
        return net

    def _arrays(self, data):
        """Input name -> array from an array, a dict or a DataFrame."""
        names = self._input_names if self._input_names is not None else \
            list(self._network(None).inputs)
        if isinstance(data, dict):
            unknown = [k for k in data if k not in names]
            if unknown:
                raise KeyError(f"predict: unknown inputs {unknown}; the network's inputs are "
                               f"{names}")
            return {k: np.asarray(v) for k, v in data.items()}
        columns = getattr(data, "columns", None)
        if columns is not None and len(columns) and all(c in names for c in columns):
            return {c: np.stack([np.asarray(v) for v in data[c]]) for c in columns}
        if len(names) != 1:
            raise ValueError(f"predict: the network has inputs {names}; give a dict (or a "
                             "DataFrame with those columns)")
        values = data.to_numpy() if hasattr(data, "to_numpy") else np.asarray(data)
        return {names[0]: values}

    def predict(self, data, params=None):
        """Outputs of the model's network for ``data`` (see the module docs)."""
        if data is None:
            return None
        self._load()
        arrays = self._arrays(data)
        sizes = {len(a) if a.ndim else 1 for a in arrays.values()}
        if len(sizes) != 1:
            raise ValueError(f"predict: inputs have different batch sizes "
                             f"{ {k: a.shape for k, a in arrays.items()} }")
        batch = sizes.pop()
        net = self._network(batch)
        for name, value in arrays.items():
            var = net.variables[name]
            if value.size != var.size:
                raise ValueError(f"predict: input {name!r} takes shape {var.shape}, got "
                                 f"{value.shape}")
            var.d = value.reshape(var.shape)
        outputs = [net.variables[n] for n in self._output_names]
        nnjax.forward_all(outputs, clear_buffer=False)
        if len(outputs) == 1:
            return np.array(outputs[0].d)
        return {n: np.array(v.d) for n, v in zip(self._output_names, outputs)}


def _run_names(experiment_id):
    client = MlflowClient()
    names, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        names.extend(r.info.run_name for r in page)
        token = page.token
        if not token:
            return names


def _get_all_run_names():
    """The run names of the current experiment."""
    return _run_names(_get_experiment_id())


original_start_run = mlflow.start_run
_START_RUN_PARAMETERS = inspect.signature(original_start_run)


def _unique_start_run(*args, **kwargs):
    bound = _START_RUN_PARAMETERS.bind_partial(*args, **kwargs)
    run_name = bound.arguments.get("run_name")
    if run_name is not None and bound.arguments.get("run_id") is None:
        experiment_id = bound.arguments.get("experiment_id") or _get_experiment_id()
        taken = set(_run_names(experiment_id))
        if run_name in taken:
            index = 1
            while f"{run_name}-{index}" in taken:
                index += 1
            _logger.info("run name %r is taken; using %r", run_name, f"{run_name}-{index}")
            bound.arguments["run_name"] = f"{run_name}-{index}"
    return original_start_run(*bound.args, **bound.kwargs)


def unique_run_name():
    """From now on, ``mlflow.start_run(run_name=...)`` renames a run whose name the
    experiment already has to ``<name>-<n>`` (the first free n)."""
    if mlflow.start_run is not _unique_start_run:
        mock.patch.object(mlflow, "start_run", _unique_start_run).start()


def get_runid_by_name(run_name, experiment_name=None):
    """The id of the newest run named ``run_name`` in the experiment ``experiment_name``
    (default: the current experiment), or None when there is none."""
    client = MlflowClient()
    if experiment_name is None:
        experiment_id = _get_experiment_id()
    else:
        experiment = client.get_experiment_by_name(experiment_name)
        if experiment is None:
            raise ValueError(f"get_runid_by_name: no experiment named {experiment_name!r}")
        experiment_id = experiment.experiment_id
    token = None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        for run in page:  # newest first
            if run.info.run_name == run_name:
                return run.info.run_id
        token = page.token
        if not token:
            return None
