"""`torch.utils.data`: datasets (dataset.py), the order of their indices (sampler.py) and the DataLoader that
batches them (dataloader.py; its docstring tells how the pieces fit). `torch.utils.data.dataloader` and the other
submodule paths are these modules (registered in tinygrad_bn/pytorch/__init__.py)."""
from . import dataloader, dataset, sampler
from .dataloader import DataLoader, default_collate
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "RandomSampler", "Sampler", "SequentialSampler",
           "Subset", "SubsetRandomSampler", "TensorDataset", "default_collate", "random_split"]
