"""Finding labelled images on disk, in the three layouts people have.

1. Kaggle         root/cat.0.jpg, root/dog.0.jpg, ...        class = the file name before the first dot
2. class folders  root/<class>/**/*.jpg                      class = the folder name (torchvision's ImageFolder)
3. Microsoft      root/PetImages/Cat/*.jpg, .../Dog/*.jpg    (root may also be the PetImages folder itself)

Every layout gives the same answer: sorted paths, int64 labels and sorted class names, so label k means classes[k]
and "cat" is 0, "dog" is 1 whichever layout the images came in. Nothing is decoded here (see images.py): files whose
names do not look like labelled images (Thumbs.db, README.txt, ...) are listed in `ignored` with the reason, and
so are the entries named like images that cannot be one: symbolic links that lead nowhere (dangling, or a loop) and
anything but a regular file (a named pipe would make the decoder wait for ever, a socket, a device), which are also
named in a SkippedImagesWarning.

A folder with class folders and, at its root, files named like Kaggle's (sample.1.jpg) matches two layouts: the
class folders win, as in torchvision's ImageFolder, which ignores root files; a LayoutWarning says so.
"""
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cache import SkippedImagesWarning
from .images import is_image_name, not_an_image_file_reason
from .printable import printable

DEFAULT_DATA_DIR = "data/dogs-vs-cats"
DATA_ENV_VAR = "TINYGRAD_BN_DATA"


class LayoutWarning(UserWarning):
    """The folder matches two layouts; the message says which one was used."""


@dataclass
class ImageFolder:
    root: str
    layout: str  # "kaggle", "class-folders" or "petimages"
    paths: list  # sorted file paths
    labels: np.ndarray  # int64, labels[i] is the class of paths[i]
    classes: list  # sorted class names
    ignored: list = field(default_factory=list)  # (path, reason) for files that are not labelled images

    def __len__(self):
        return len(self.paths)

    def class_counts(self):
        """{class name: number of images}."""
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return dict(zip(self.classes, counts.tolist()))

    def subset(self, indices):
        """The same folder restricted to `indices` (e.g. a quick run on a few hundred images)."""
        indices = np.asarray(indices, dtype=np.int64)
        paths = [self.paths[i] for i in indices]
        return ImageFolder(self.root, self.layout, paths, self.labels[indices], self.classes, self.ignored)


def resolve_data_dir(data=None):
    """The data folder to use: the --data argument, else $TINYGRAD_BN_DATA, else data/dogs-vs-cats."""
    return Path(data or os.environ.get(DATA_ENV_VAR) or DEFAULT_DATA_DIR).expanduser()


def find_images(root):
    """Find the labelled images under `root` (any of the three layouts) and return an ImageFolder."""
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(
            f"data folder not found: {printable(root)}. Pass --data DIR or set {DATA_ENV_VAR}, "
            f"or download the images with `python data/download.py` (see data/README.md)."
        )
    if not root.is_dir():
        raise NotADirectoryError(f"expected a folder of images, got a file: {printable(root)}")

    if (root / "PetImages").is_dir():
        return _class_folders(root, root / "PetImages", "petimages")
    if root.name == "PetImages":
        return _class_folders(root, root, "petimages")
    files, folders = _visible_entries(root)
    kaggle_names = [name for name in files if name.count(".") >= 2 and is_image_name(name)]
    if not kaggle_names:
        return _class_folders(root, root, "class-folders")
    try:
        found = _class_folders(root, root, "class-folders")
    except ValueError:  # fewer than two class folders with images: the root files are the dataset
        return _kaggle(root, files, folders)
    warnings.warn(f"{printable(root)} matches two layouts: class folders {found.classes} and {len(kaggle_names)} "
                  f"files named like Kaggle's at its root (e.g. {printable(kaggle_names[0])}); using the class folders "
                  f"and ignoring the root files, as torchvision's ImageFolder does", LayoutWarning, stacklevel=2)
    found.ignored += [(str(root / name), "a file at the root of a class-folder dataset") for name in files]
    return found


def _visible_entries(folder):
    """Sorted (file names, folder names) in `folder`, without hidden ones (.DS_Store, our own .tinygrad_bn_cache)."""
    files, folders = [], []
    for entry in sorted(os.scandir(folder), key=lambda entry: entry.name):
        if entry.name.startswith("."):
            continue
        (folders if _is_dir(entry) else files).append(entry.name)
    return files, folders


def _is_dir(entry):
    try:
        return entry.is_dir()
    except OSError:  # a symbolic link loop: not a folder; listed as a file, then skipped as a broken link
        return False


def _kaggle(root, files, folders=()):
    class_of_path = {}
    ignored = [(str(root / name), "a folder named like an image") for name in folders if is_image_name(name)]
    for name in files:
        path = str(root / name)
        if not is_image_name(name):
            ignored.append((path, "not an image file name"))
        elif name.count(".") < 2:
            ignored.append((path, "no class in the file name (expected e.g. cat.123.jpg)"))
        elif not_an_image_file_reason(path):
            ignored.append((path, not_an_image_file_reason(path)))
        else:
            class_of_path[path] = name.split(".", 1)[0]
    return _labelled(root, "kaggle", class_of_path, ignored)


def _class_folders(root, classes_root, layout):
    class_of_path, ignored = {}, []
    _, folders = _visible_entries(classes_root)
    for folder in folders:
        # Microsoft names its folders Cat and Dog; lower-casing makes them the same classes as Kaggle's cat and dog
        class_name = folder.lower() if layout == "petimages" else folder
        unlisted = []  # os.walk skips a folder it cannot list, saying nothing: here it is named
        for dirpath, dirnames, filenames in os.walk(classes_root / folder, onerror=unlisted.append):
            dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
            for name in dirnames:  # os.walk does not follow them (a link may lead back up: a loop)
                if os.path.islink(os.path.join(dirpath, name)):
                    ignored.append((os.path.join(dirpath, name), "a symbolic link to a folder, not followed"))
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if name.startswith("."):
                    continue
                if not is_image_name(name):
                    ignored.append((path, "not an image file name"))
                elif not_an_image_file_reason(path):
                    ignored.append((path, not_an_image_file_reason(path)))
                else:
                    class_of_path[path] = class_name
        ignored += [(error.filename, f"a folder that cannot be listed: {error.strerror}") for error in unlisted]
    return _labelled(root, layout, class_of_path, ignored)


def _labelled(root, layout, class_of_path, ignored):
    """Turn {path: class name} into an ImageFolder, checking there is something to learn from."""
    classes = sorted(set(class_of_path.values()))
    if not classes:
        raise ValueError(
            f"no images found in {printable(root)}: expected cat.1.jpg/dog.1.jpg files, one folder per class, "
            f"or PetImages/Cat and PetImages/Dog (see data/README.md)"
        )
    if len(classes) == 1:
        raise ValueError(f"only one class ({classes[0]!r}) found in {printable(root)}: a classifier needs at least two")
    index_of = {name: k for k, name in enumerate(classes)}
    paths = sorted(class_of_path, key=lambda path: (index_of[class_of_path[path]], path))
    labels = np.array([index_of[class_of_path[path]] for path in paths], dtype=np.int64)
    _warn_about_broken_links(ignored)
    return ImageFolder(str(root), layout, paths, labels, classes, ignored)


def _warn_about_broken_links(ignored):
    """Name the entries with an image's name that cannot be one (links that lead nowhere, named pipes, sockets,
    devices) as the cache names undecodable images: a bad file never stops a run, nor is it left out unsaid."""
    broken = [(path, reason) for path, reason in ignored if reason != "not an image file name"
              and not reason.startswith(("no class in the file name", "a file at the root"))]
    if broken:
        shown = "; ".join(f"{printable(path)} ({reason})" for path, reason in broken[:5])
        more = f"; and {len(broken) - 5} more" if len(broken) > 5 else ""
        warnings.warn(f"skipped {len(broken)} files that cannot be opened: {shown}{more}", SkippedImagesWarning,
                      stacklevel=3)
