"""Why NNabla test files still fail on nnjax, as analysed (file -> reason).

The report prints these beside the files that have failures, errors or a
timeout; a file whose row is clean drops its entry from the report.
"""

KNOWN_REASONS = {
    "function/test_scatter_add.py":
        "the test itself: it calls np.reshape(..., newshape=...), which numpy >= 2.4 removed "
        "(a copy with only that keyword changed passes 27/27)",
    "function/test_convolution.py":
        "in some runs 2-3 double-backward cases: float32 finite differences of the backward "
        "exceed the test's atol by a few percent (0.083 against 0.08); XLA's convolution sums "
        "in another order than NNabla's kernels",
    "function/test_depthwise_convolution.py":
        "in some runs 2 'half backward' cases: float16 results differ from float32 by 0.109 "
        "against the test's atol 0.1 (float16 rounding of the first compile tier)",
    "function/test_sum_pooling.py":
        "row from a run whose first tier switched tiers inside finite-difference loops (fixed: "
        "small programs stay in one tier); re-run directly on the final tree: passes",
    "function/test_transpose.py":
        "row from a run whose first tier switched tiers inside finite-difference loops (fixed); "
        "re-run directly on the final tree: 19/19",
    "test_parametric_functions.py":
        "row from ff911c0: its 184 failures came from Variable.__iter__ (removed, as NNabla); "
        "all 23 test functions re-run on the fix branch: no failures (quantized_affine sampled, "
        "4 transformer cases not reached); the whole file takes longer than the per-file limit",
    "utils/test_rnn_utils.py": "row from ff911c0; re-run on the final branches: 24/24",
    "utils/conversion/test_nnp_optimizer.py": "row from ff911c0; re-run on the final branches: 2/2",
    "core/test_load.py":
        "timeout at 300 s (about 40 min under load); run whole on the fix branch: 141 passed, "
        "20 skipped by NNabla",
    "function/test_rnn.py": "slow one-off graphs: did not finish within the per-file limit",
    "function/test_lstm.py": "slow one-off graphs: did not finish within the per-file limit",
    "function/test_random_erase.py": "row from an older snapshot; not re-run this session",
    "function/test_random_functions.py": "row from an older snapshot; not re-run this session",
    "function/test_roi_align.py":
        "row from an older snapshot; re-run on the fix branch: no failures in its first 125 "
        "tests (stopped by the time limit)",
    "function/test_pow2_quantize.py": "killed when the session's run was stopped (not a failure)",
    "function/test_gru.py": "6 double-backward forward checks at atol 1e-6: not analysed yet",
    "function/test_fused_convolution.py": "1 failure, then the 400 s limit: not analysed yet",
    "function/test_istft.py": "needs librosa (not installed: a test-only reference)",
    "function/test_stft.py": "needs librosa (not installed: a test-only reference)",
    "test_graph.py":
        "11 cases: NNabla's clear_called flags, function by function, during recomputation "
        "(nnjax recomputes left-out values lazily from records); data freed when a Python "
        "Variable dies under auto-forward; a RuntimeError from NNabla's C++ deallocation",
    "test_framework.py": "the MNIST case downloads MNIST (offline here)",
    "test_mlflow_save_load_model.py":
        "the test itself: test_log_model expects MLflow 2's ModelInfo.model_uri "
        "(runs:/<run>/<path>); MLflow 3 gives models:/<model id> (runs:/ still loads)",
    "utils/conversion/test_nnp_to_nnp_with_version.py":
        "needs NNabla v1.12.0's function table, downloaded from GitHub (offline here)",
    "utils/test_image_utils.py":
        "the test itself: img.astype(uint8) * 256 overflows under numpy 2, before nnjax is called",
}
