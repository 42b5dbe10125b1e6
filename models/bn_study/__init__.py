"""What BatchNorm really does, measured as the literature measures it, at a scale where it matters (issue #25).

    python -m models.bn_study --data ../shared/data/dogs-vs-cats/train     # the whole study; resumes where it stopped
    python -m models.bn_study --workers 2 --data ...                       # two queues, one per core (faster)
    python -m models.bn_study --hours 2.5 ...                              # start no run that would end later
    python -m models.bn_study --only main,noisy                            # some sections
    python -m models.bn_study --plan                                       # the cells, cached or not, time left
    python -m models.bn_study --report                                     # tables from the cache, training nothing
    python -m models.bn_study --device cuda                                # the same study on a GPU
    python -m models.bn_study --quick                                      # the test suite's tiny version (seconds)

Read in this order: cells.py (the settings of each run and the sections' cells), nets.py (the networks), measures.py
(the measurements, each with its paper's definition), runner.py (one run, the cache), report.py, cli.py.

The design
==========
A run is a Cell (cells.py): a frozen dataclass of every setting. Its cache key is a hash of the settings and
STUDY_VERSION; a finished run is one JSON file (and its final weights, .npz) in the cache folder, written
atomically, so the study can be stopped at any moment and resumed, and runs accumulate across sessions and
machines. Every cell of every table runs with seeds 0, 1 and 2; a table shows the mean and the 95% Student-t
interval over the seeds; two rows differ when the 95% interval of their difference, seed by seed (rows share
the seeds: the same batches, crops and flips), leaves out zero. The seed decides the initial
weights, the batches, crops and flips (and the noise of noisy BN); the images, the subset and the validation split
are the same in every run (data_seed 0).

Three scales, chosen by what a section needs and what it costs on the 2-core CPU:

    full      the default recipe of `python -m models.catsdogs train` (90.7% in 4 epochs): all 22,500 images
              (20,250 train, 2,250 validation), 4 epochs from 40 to 60 px, batch 64, SGD with Nesterov momentum,
              weight decay 5e-4, one-cycle lr peaking at 0.1, the default VGG-style CatsDogsNet.
    reduced   the same recipe on a class-balanced 6,000 images (5,400 train, 600 validation): a quarter of the
              cost, for the sweeps, which need many runs each. The BN model reaches less than 88% here, so these
              sections compare the rows with each other, not with the full-scale numbers.
    small     the reduced subset at 32 px (no progressive resizing), for the batch-size section: a batch of 2 takes
              2,700 steps per epoch, affordable only with small images.

The sections, in the order the queue runs them (seed 0 of every row of a section before seed 1):

    main     full     BN / no BN with He init, lr 0.1, validated twice per epoch (time and epochs to
                      80/85/88%), 8 probes of internal covariate shift and smoothness along training (Santurkar et
                      al.), and for BN: eval with batch statistics, the noise of batch statistics. (No BN with the
                      default init stalls at chance here: the lr section has it at every rate.)    6 runs  3.7 h
    noisy    full     noisy BN (BN + noise on every value, of a random non-zero mean and non-unit variance per
                      channel, new at every step; Santurkar et al.'s kind) and shifted BN (BN, then each channel
                      scaled and shifted at random, new at every step: the distribution moves, no value is
                      drowned in noise), with the same probes, evaluated with statistics re-measured
                      without the noise                                                                 6 runs  4.5 h
    lr       reduced  peak lr 0.03, 0.1, 0.3, 1, 3 x {BN, no BN, no BN + He init}: the largest stable
                      rate; a run "diverges" (non-finite loss) or "stalls" (ends below 60%)           45 runs  4.1 h
    details  reduced  BN before / after ReLU; conv bias before BN (redundant: its gradient is zero);
                      BN momentum 0.01, 0.1, 0.5, 0.9 and the train/eval gap; and, from the main
                      BN models, fine-tuning on 2,000 gray images (a shifted input distribution), batch
                      16, with BN's statistics frozen (eval mode) or updated                            24 runs  2.2 h
    init     reduced  He init x 0.1, 0.3, 1, 3, 10, with and without BN (x1 without BN: an lr run)  27 runs  2.5 h
    overfit  reduced  8 epochs, BN / no BN (He init) x weight decay 5e-4 / 0 x augmentation on / off:
                      train vs validation at matched training loss                                     24 runs  4.4 h
    batch    small    batch 2, 4, ..., 128 x {BN, GroupNorm, LayerNorm, none (He init)}, lr = 0.1 x
                      batch / 64, 4 epochs (Wu and He 2018)                                           84 runs  5.0 h

About 27 core-hours of this 2-core CPU (216 distinct runs; the first 130 cost 18.7; the hours above are measured
durations of the runs done so far, or the cost model of cells.py scaled to them): one step takes 0.030 s + 5.4e-6 s x batch x pixels,
measured on this 2-core CPU with batches of random data (BN: 1.19 s per step of 64 images at 60 px, 0.60 s at 40
px, 0.041 s for 2 images at 32 px), x 1.1 without BN, x 1.45 noisy BN, x 1.5 GN; plus the evaluations and probes.
`--plan` recalibrates the model on the runs already cached. Diverging runs stop early, so the lr and init sections
cost less than their estimate. Two queues (--workers 2), each pinned to one core with single-threaded BLAS, get
1.34x the throughput of one queue on both cores (measured: 0.87 s per step of the study's net at batch 64 and 48 px
with two threads, against 1.25 and 1.35 s for two pinned processes side by side), so about 14 hours of wall time;
sessions of a few hours each resume where the last stopped. A GPU runs each cell in a minute or two: the same
command with --device cuda fills the same cache. The cache is docs/bn-study/runs by default: finished runs are part
of the repository (docs/bn-study/runs/README.md), so that no session's runs are lost with its machine.

The report (report.py, plots.py) renders whatever the cache holds, to runs/bn-study/report/ by default:
results.json, bn-study-tables.md and figures/. The written report (docs/bn-study.md and docs/bn-study.vi.md, the
prose, the verdicts) waits for the whole study; until then docs/bn-study.md is the old, small study's.
"""
