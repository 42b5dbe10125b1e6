"""Finding labelled images on disk, in the three layouts people have.

1. Kaggle         root/cat.0.jpg, root/dog.0.jpg, ...        class = the file name before the first dot
2. class folders  root/<class>/**/*.jpg                      class = the folder name (torchvision's ImageFolder)
3. Microsoft      root/PetImages/Cat/*.jpg, .../Dog/*.jpg    (root may also be the PetImages folder itself)

Every layout gives the same answer: sorted paths, int64 labels and sorted class names, so label k means classes[k]
and "cat" is 0, "dog" is 1 whichever layout the images came in. Nothing is decoded here (see images.py): files whose
names do not look like labelled images (Thumbs.db, README.txt, ...) are listed in `ignored` with the reason.
"""
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinygrad_bn.data.images import is_image_name

DEFAULT_DATA_DIR = "data/dogs-vs-cats"
DATA_ENV_VAR = "TINYGRAD_BN_DATA"


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
            f"data folder not found: {root}. Pass --data DIR or set {DATA_ENV_VAR}, "
            f"or download the images with `python data/download.py` (see data/README.md)."
        )
    if not root.is_dir():
        raise NotADirectoryError(f"expected a folder of images, got a file: {root}")

    if (root / "PetImages").is_dir():
        return _class_folders(root, root / "PetImages", "petimages")
    if root.name == "PetImages":
        return _class_folders(root, root, "petimages")
    files, folders = _visible_entries(root)
    if any(name.count(".") >= 2 and is_image_name(name) for name in files):
        return _kaggle(root, files)
    return _class_folders(root, root, "class-folders")


def _visible_entries(folder):
    """Sorted (file names, folder names) in `folder`, without hidden ones (.DS_Store, our own .tinygrad_bn_cache)."""
    files, folders = [], []
    for entry in sorted(os.scandir(folder), key=lambda entry: entry.name):
        if entry.name.startswith("."):
            continue
        (folders if entry.is_dir() else files).append(entry.name)
    return files, folders


def _kaggle(root, files):
    class_of_path, ignored = {}, []
    for name in files:
        path = str(root / name)
        if not is_image_name(name):
            ignored.append((path, "not an image file name"))
        elif name.count(".") < 2:
            ignored.append((path, "no class in the file name (expected e.g. cat.123.jpg)"))
        else:
            class_of_path[path] = name.split(".", 1)[0]
    return _labelled(root, "kaggle", class_of_path, ignored)


def _class_folders(root, classes_root, layout):
    class_of_path, ignored = {}, []
    _, folders = _visible_entries(classes_root)
    for folder in folders:
        # Microsoft names its folders Cat and Dog; lower-casing makes them the same classes as Kaggle's cat and dog
        class_name = folder.lower() if layout == "petimages" else folder
        for dirpath, dirnames, filenames in os.walk(classes_root / folder):
            dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if name.startswith("."):
                    continue
                if is_image_name(name):
                    class_of_path[path] = class_name
                else:
                    ignored.append((path, "not an image file name"))
    return _labelled(root, layout, class_of_path, ignored)


def _labelled(root, layout, class_of_path, ignored):
    """Turn {path: class name} into an ImageFolder, checking there is something to learn from."""
    classes = sorted(set(class_of_path.values()))
    if not classes:
        raise ValueError(
            f"no images found in {root}: expected cat.1.jpg/dog.1.jpg files, one folder per class, "
            f"or PetImages/Cat and PetImages/Dog (see data/README.md)"
        )
    if len(classes) == 1:
        raise ValueError(f"only one class ({classes[0]!r}) found in {root}: a classifier needs at least two")
    index_of = {name: k for k, name in enumerate(classes)}
    paths = sorted(class_of_path, key=lambda path: (index_of[class_of_path[path]], path))
    labels = np.array([index_of[class_of_path[path]] for path in paths], dtype=np.int64)
    return ImageFolder(str(root), layout, paths, labels, classes, ignored)
