"""Why NNabla test files still fail on nnjax, as analysed (file -> reason).

The report prints these beside the files that have failures, errors or a
timeout; a file whose row is clean drops its entry from the report.
"""

KNOWN_REASONS = {
    "function/test_scatter_add.py":
        "the test itself: it calls np.reshape(..., newshape=...), which numpy >= 2.4 removed "
        "(a copy with only that keyword changed passes 27/27)",
    "function/test_convolution.py":
        "2 3-D double-backward cases (group 2, with bias) since round 12 computes 3-D "
        "convolutions as 2-D ones on CPU (its 3-D cases 363 s -> 144 s): scipy's one-sided finite "
        "differences (step 1e-3 of a float32 value near 1e3, so steps of 0.06) miss the "
        "analytic gradient by 0.215 against the test's atol of 0.2 at 2 of 48 entries; the "
        "analytic gradient equals float64 jax.grad of XLA's 3-D convolution to 1e-5, and the "
        "value's float32 rounding error spreads as with XLA's 3-D kernel (2.4e-5 against "
        "2.6e-5). Earlier runs failed 2-3 2-D double-backward cases the same way in some runs",
    "test_parametric_functions.py":
        "row from ff911c0: its 184 failures came from Variable.__iter__ (removed, as NNabla); "
        "all 23 test functions re-run on the fix branch: no failures (quantized_affine sampled, "
        "4 transformer cases not reached); the whole file takes longer than the per-file limit",
    "utils/test_rnn_utils.py": "row from ff911c0; re-run on the final branches: 24/24",
    "utils/conversion/test_nnp_optimizer.py": "row from ff911c0; re-run on the final branches: 2/2",
    "core/test_load.py":
        "timeout at 300 s (about 40 min under load); run whole on the fix branch: 141 passed, "
        "20 skipped by NNabla",
    "function/test_fused_convolution.py":
        "11 float cases at 242009b (all 720 ran, 685 s; the run before reached 712 of them in "
        "2700 s and failed 5): 6 forward checks at atol 0 and 5 backward checks compare "
        "FusedConvolution with NNabla's reference built from separate functions, which now "
        "runs function by function (a graph's first runs); XLA's CPU reductions (the batch "
        "statistics) can round differently in separate programs than inside the fused one; "
        "the seed-314/pad1 quarter re-run on the final tree fails only the 2 tanh cases known "
        "before (backward 2e-6 against atol 1e-6), the same with NNJAX_FIRST_RUNS_BY_FUNCTION=0; "
        "the other 9 not analysed case by case",
    "function/test_istft.py":
        "6-7 double-backward cases (rectangular window, fft 16): 3 of 320 finite differences "
        "are one float32 step of the summed output (0.061) from the analytic values against "
        "the test's atol 0.06; the graph runs function by function (a small graph), and a "
        "case checked with NNJAX_FIRST_RUNS_BY_FUNCTION=0 passes",
    "function/test_embed.py":
        "1 double-backward case (shape_w2-shape_x1): one forward-difference evaluation, the "
        "second of scipy's approx_fprime loop, rounds differently from the others in the first "
        "compile tier (-14.679 against -14.648, atol 0.03); passes with NNJAX_TIERED_COMPILE=0; "
        "not analysed further",
    "function/test_stft.py":
        "2 double-backward cases (rectangular window, fft_size 32, center=False): float32 finite "
        "differences of the backward function's outputs are 0.058 from the analytic values "
        "against the test's atol 0.05, with or without the first compile tier",
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
