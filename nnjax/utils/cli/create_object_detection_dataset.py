"""``nnabla_cli create_object_detection_dataset``: NNabla's options; the conversion itself
(YOLO-style grid labels and anchors) is not written yet and says so."""
from .utility import CliError

__all__ = ["create_object_detection_dataset_command",
           "add_create_object_detection_dataset_command"]


def create_object_detection_dataset_command(args):
    raise CliError("create_object_detection_dataset: not available in nnjax yet (grid labels "
                   "and anchors are not written); create_image_classification_dataset works")


def add_create_object_detection_dataset_command(subparsers):
    p = subparsers.add_parser("create_object_detection_dataset",
                              help="Create dataset from image and label files.")
    p.add_argument("-i", "--sourcedir", help="source directory with souce image and label files",
                   required=True)
    p.add_argument("-o", "--outdir", help="output directory", required=True)
    p.add_argument("-n", "--num_class", help="number of object classes", required=True)
    p.add_argument("-c", "--channel", help="number of output color channels", required=True)
    p.add_argument("-w", "--width", help="width of output image", required=True)
    p.add_argument("-g", "--height", help="height of output image", required=True)
    p.add_argument("-a", "--num_anchor", help="number of anchor", required=True)
    p.add_argument("-d", "--grid_size", help="width and height of detection grid", required=True)
    p.add_argument("-m", "--mode", help="shaping mode (trimming or padding)", required=True)
    p.add_argument("-s", "--shuffle", help="shuffle mode (true or false)", required=True)
    p.add_argument("-f1", "--file1", help="output file name 1", required=True)
    p.add_argument("-r1", "--ratio1", help="output file ratio(%%) 1")
    p.add_argument("-f2", "--file2", help="output file name 2")
    p.add_argument("-r2", "--ratio2", help="output file ratio(%%) 2")
    p.set_defaults(func=create_object_detection_dataset_command)
