"""Command line: ``python -m converters [options] INPUT... -o OUTPUT [-o OUTPUT ...]``.

Examples::

    python -m converters model.nnp -o net.nntxt -o params.h5   # unpack
    python -m converters net.nntxt params.h5 -o model.nnp      # pack
    python -m converters params.h5 -o params.protobuf          # parameters
    python -m converters params.protobuf -o params.h5
    python -m converters model.nnp --info                       # summary
    python -m converters model.nnp -o model.onnx -d opset_13    # ONNX
    python -m converters model.onnx -o model.nnp                # ONNX import
    python -m converters model.nnp -o model.nnb                 # nnabla-c-runtime
    python -m converters model.nnp -o model.stablehlo           # jax.export artifact
    python -m converters model.nnp -o model.tflite              # TFLite (nnjax[tf])
    python -m converters model.nnp -o model_saved_model         # TF SavedModel (nnjax[tf])
"""
import argparse
import sys

from . import PARAMETER_FORMATS, ConversionError, convert, describe


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m converters",
        description="Convert NNabla model files: .nnp, .nntxt/.prototxt, .protobuf, .h5, "
                    ".onnx (in and out), .nnb, .stablehlo, .mlir, and with nnjax[tf] "
                    ".tflite, .pb and *saved_model directories.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="model files, merged in order (e.g. net.nntxt params.h5)")
    p.add_argument("-o", "--output", action="append", default=[], metavar="OUTPUT",
                   help="a file to write, format from its extension (.nnp, .nntxt, "
                        ".prototxt, .protobuf, .h5) or an existing directory; repeatable")
    p.add_argument("-p", "--parameter-format", choices=PARAMETER_FORMATS, default="h5",
                   help="parameter file inside an .nnp or directory output (default: h5)")
    p.add_argument("--include-parameters", action="store_true",
                   help="also write the parameters into .nntxt/.prototxt outputs")
    p.add_argument("--exclude-parameter", action="store_true",
                   help="write no parameters")
    p.add_argument("-b", "--batch-size", type=int, default=None,
                   help="overwrite the batch size of every network")
    p.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--check", action="store_true",
                   help="rebuild every network with nnjax before writing")
    p.add_argument("-d", "--define-version", default=None,
                   help="ONNX opset of .onnx outputs (opset_11 (default) to opset_17) "
                        "or NNB format version (nnb_2, nnb_3)")
    p.add_argument("--api", type=int, default=None,
                   help="nnabla-c-runtime API level of .nnb outputs (default: newest)")
    p.add_argument("--info", action="store_true",
                   help="print the networks, executors and parameters of the inputs")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.info:
            print(describe(args.inputs))
        if args.output:
            written = convert(args.inputs, args.output, parameter_format=args.parameter_format,
                              include_parameters=args.include_parameters,
                              exclude_parameter=args.exclude_parameter,
                              batch_size=args.batch_size, force=args.force, check=args.check,
                              define_version=args.define_version, api=args.api)
            for path in written:
                print(f"wrote {path}")
        elif not args.info:
            print("nothing to do: give -o OUTPUT or --info", file=sys.stderr)
            return 2
    except ConversionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
