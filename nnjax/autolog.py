"""Log NNabla monitors to MLflow automatically (``nnabla.autolog``).

``autolog()`` patches the monitors so that, inside an MLflow run, what they
record also goes to MLflow: ``MonitorSeries`` values (the mean over each
interval) and ``MonitorTimeElapsed`` times as metrics with their index as step,
the PNG files ``MonitorImage``/``MonitorImageTile`` write as artifacts under
``runs_<run id>/<monitor name>``, and with ``with_save_parameters=True`` the
files ``nn.save_parameters`` writes under ``runs_<run id>/parameters``.
``stop_autolog()`` removes the patches. Needs the ``mlflow`` package.

NNabla's users log to file stores (``file://...``), which newer MLflow refuses
unless ``MLFLOW_ALLOW_FILE_STORE`` is set; importing this module sets it to
``true`` when the user has not set it.
"""
import glob
import os
import time
import unittest.mock as mock

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
import mlflow  # noqa: E402  (after the setting above)

import nnjax as nn
from .monitor import MonitorImage, MonitorImageTile, MonitorSeries, MonitorTimeElapsed

nnabla_mlflow_patches = []
original_add_series = MonitorSeries.add
original_add_time_elapsed = MonitorTimeElapsed.add
original_add_image = MonitorImage.add
original_add_image_tile = MonitorImageTile.add
original_save_parameters = nn.save_parameters


def _flushes(monitor, index):
    """Whether ``index`` ends the monitor's interval (it then writes a value)."""
    return (index - monitor.flush_at) >= monitor.interval


def _artifact_dir(name):
    return "runs_{}/{}".format(mlflow.active_run().info.run_id, name)


def _log_files(pattern, name):
    for path in sorted(glob.glob(pattern)):
        mlflow.log_artifact(path, _artifact_dir(name))


def _add_series(self, index, value):
    if _flushes(self, index):
        mean = (sum(self.buf) + value) / (len(self.buf) + 1)
        mlflow.log_metric(self.name, float(mean), step=index)
    original_add_series(self, index, value)


def _add_time_elapsed(self, index):
    if _flushes(self, index):
        mlflow.log_metric(self.name, time.time() - self.lap, step=index)
    original_add_time_elapsed(self, index)


def _add_image(self, index, value):
    original_add_image(self, index, value)
    _log_files(os.path.join(self.save_dir, "{:06d}-*.png".format(index)), self.name)


def _add_image_tile(self, index, value):
    original_add_image_tile(self, index, value)
    _log_files(os.path.join(self.save_dir, "{:06d}.png".format(index)), self.name)


def _save_parameters(path, params=None, *args, **kwargs):
    original_save_parameters(path, params, *args, **kwargs)
    mlflow.log_artifact(path, _artifact_dir("parameters"))


def autolog(with_save_parameters=False):
    """Start logging the monitors (and, optionally, saved parameters) to the active MLflow run."""
    global nnabla_mlflow_patches
    stop_autolog()
    nnabla_mlflow_patches = [
        mock.patch.object(MonitorSeries, "add", _add_series),
        mock.patch.object(MonitorTimeElapsed, "add", _add_time_elapsed),
        mock.patch.object(MonitorImage, "add", _add_image),
        mock.patch.object(MonitorImageTile, "add", _add_image_tile),
    ]
    if with_save_parameters:
        nnabla_mlflow_patches.append(mock.patch.object(nn, "save_parameters",
                                                       _save_parameters))
    for patch in nnabla_mlflow_patches:
        patch.start()


def stop_autolog():
    """Remove the patches ``autolog`` made."""
    global nnabla_mlflow_patches
    for patch in reversed(nnabla_mlflow_patches):
        patch.stop()
    nnabla_mlflow_patches = []
