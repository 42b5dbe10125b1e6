"""How fast is the image pipeline? Two numbers, to compare with a training step's images/s:

1. decode + resize + cache build (once per dataset and image size), images/s
2. batches from the cache with random crop, flip, normalization and shuffling (every epoch), images/s

    python benchmarks/data_pipeline.py --data ../shared/data/dogs-vs-cats/train --limit 2000

The cache is built in a temporary folder, so the first number is always a cold build.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from models.images import (as_tensors, balanced_subset, build_cache, cache_size, channel_stats,  # noqa: E402
                           find_images, image_loader, resolve_data_dir)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="image folder (default: $TINYGRAD_BN_DATA or data/dogs-vs-cats)")
    parser.add_argument("--limit", type=int, default=2000, help="images to use (a class-balanced subset)")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3, help="epochs to time the loader over")
    parser.add_argument("--workers", type=int, default=None, help="decode threads (default: CPU count)")
    parser.add_argument("--loader-workers", type=int, default=2, help="batch-assembly threads")
    args = parser.parse_args()

    folder = find_images(resolve_data_dir(args.data))
    folder = folder.subset(balanced_subset(folder.labels, args.limit, seed=0))
    size = cache_size(args.image_size)
    with tempfile.TemporaryDirectory() as cache_dir:
        start = time.perf_counter()
        cache = build_cache(folder.paths, size, cache_dir, workers=args.workers, progress=False)
        seconds = time.perf_counter() - start
        print(f"decode + resize to {size}px + cache: {len(folder)} images in {seconds:.2f} s "
              f"= {len(folder) / seconds:,.0f} images/s")

        labels = folder.labels[cache.kept]
        mean, std = channel_stats(cache.images)
        loader = image_loader(cache.images, labels, args.batch_size, image_size=args.image_size, mean=mean, std=std,
                              shuffle=True, augment=True, drop_last=True, workers=args.loader_workers)
        for tensors in (False, True):
            # the collate step alone differs: the batch's arrays as they are, or as Tensors (what training gets)
            loader.collate_fn = as_tensors if tensors else (lambda batch: batch)
            start, count = time.perf_counter(), 0
            for epoch in range(args.epochs):
                loader.batch_sampler.set_epoch(epoch)
                for images, _ in loader:
                    count += images.shape[0]
            seconds = time.perf_counter() - start
            what = "Tensors" if tensors else "NumPy arrays"
            print(f"loader (crop {args.image_size}, flip, normalize, shuffle) as {what}: {count} images in "
                  f"{seconds:.2f} s = {count / seconds:,.0f} images/s")


if __name__ == "__main__":
    main()
