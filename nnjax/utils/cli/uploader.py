"""``nnabla_cli create_tar`` (a CSV dataset and the files it names as one tar archive) and
``nnabla_cli upload`` (to Neural Network Console: needs the network)."""
import csv
import io
import os
import tarfile
import urllib.error
import urllib.parse
import urllib.request

from .. import get_file_handle as fh
from .utility import CliError

__all__ = ["create_tar", "create_tar_command", "upload_command", "add_upload_command",
           "add_create_tar_command"]

DEFAULT_ENDPOINT = "https://console-api.dl.sony.com"
_TIMEOUT_S = 10


def _csv_with_files(csv_path):
    """(rows with file cells renamed to data/<n>_<name>, {archive name: file path})."""
    if not os.path.exists(csv_path):
        raise CliError(f"{csv_path}: no such file")
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise CliError(f"{csv_path}: empty CSV file")
    width = len(rows[0])
    files, out = {}, []
    for line, row in enumerate(rows):
        if line and len(row) != width:
            raise CliError(f"{csv_path}: line {line + 1} has {len(row)} items, the header "
                           f"{width}")
        new_row = []
        for item in row:
            path = item if os.path.isfile(item) else os.path.join(
                os.path.dirname(csv_path), *item.split("\\"))
            if line and os.path.isfile(path):
                name = f"data/{len(files):012d}_{os.path.basename(path)}"
                files[name] = os.path.abspath(path)
                new_row.append(name)
            else:
                new_row.append(item)
        out.append(new_row)
    return out, files


def create_tar(source, destination):
    rows, files = _csv_with_files(source)
    index = io.StringIO()
    csv.writer(index, lineterminator="\r\n").writerows(rows)
    index_bytes = index.getvalue().encode("utf-8")

    def write(tmp):
        with tarfile.open(tmp, "w") as tar:
            info = tarfile.TarInfo("index.csv")
            info.size = len(index_bytes)
            tar.addfile(info, io.BytesIO(index_bytes))
            for name in sorted(files):
                tar.add(files[name], name)
    fh.atomic_write(destination, write)
    return len(rows) - 1, len(files)


def create_tar_command(args):
    n_rows, n_files = create_tar(args.source, args.destination)
    print(f"{args.destination}: {n_rows} rows, {n_files} data files")
    return True


def upload_command(args):
    endpoint = args.endpoint or os.getenv("NNC_ENDPOINT", DEFAULT_ENDPOINT)
    ext = os.path.splitext(args.filename)[1]
    if ext not in (".csv", ".tar"):
        raise CliError(f"{args.filename}: upload takes a .csv dataset or a .tar archive")
    if not os.path.exists(args.filename):
        raise CliError(f"{args.filename}: no such file")
    name = os.path.splitext(os.path.basename(args.filename))[0]
    params = urllib.parse.urlencode({"encrypted_text": args.token, "dataset_name": name,
                                     "dataset_size": os.path.getsize(args.filename)})
    try:
        urllib.request.urlopen(f"{endpoint}/v1/misc/credential?{params}", timeout=_TIMEOUT_S)
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise CliError(f"upload: cannot reach {endpoint} ({reason})") from None
    raise CliError("upload: the storage transfer of Neural Network Console is not "
                   "implemented in nnjax; upload the archive from create_tar in the console")


def add_upload_command(subparsers):
    p = subparsers.add_parser("upload", help="Upload dataset to Neural Network Console.")
    p.add_argument("-e", "--endpoint", help="set endpoint uri", type=str)
    p.add_argument("token", help="token for upload")
    p.add_argument("filename", help="filename to upload")
    p.set_defaults(func=upload_command)


def add_create_tar_command(subparsers):
    p = subparsers.add_parser("create_tar", help="Create tar file for Neural Network Console.")
    p.add_argument("source", help="CSV dataset")
    p.add_argument("destination", help="TAR filename")
    p.set_defaults(func=create_tar_command)
