# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Your own data
#
# The experiments of this book use the paper's datasets and operations. This chapter does what a
# user with a problem of their own would do: it takes a folder of images that the library has never
# seen, adds an operation that is not built in, searches once, picks a model for a latency budget on
# this machine, exports it and runs it in ONNX Runtime. Every step goes through the public API
# (the same steps on the command line are in the README).

# %% tags=["parameters", "hide-cell"]
profile = "quick"
seed = 0
data_root = None
results_dir = None
runs_dir = "runs"
force = False

# %% tags=["remove-cell"]
import os
import warnings

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from hypernas import book, data
from hypernas.examples.own_data import run_own_data_study
from hypernas.report import own_data as report

warnings.filterwarnings("ignore")
os.environ.setdefault("TQDM_DISABLE", "1")
book.use_book_style()

# %% [markdown]
# ## The data and the operation
#
# The images are drawn by the chapter itself (`hypernas.data.shapes`): coloured circles, crosses,
# squares and triangles of random size, place and colour on a noisy background, 24 x 24 pixels,
# written as PNG files in one sub-folder per class, the layout of torchvision's `ImageFolder`. There
# is no `test/` folder, so the library holds out a seeded sixth of every class for testing. The
# search is given the folder as `dataset="imagefolder:PATH"`; it decodes the images once into the
# data folder's cache and records the dataset by a label and a content hash, never by its path.
#
# The operation is a dilated 3 x 3 convolution (depthwise with dilation 2, then 1 x 1), which the
# library does not register. One call adds it, in the op group `conv`:
#
# ```python
# hypernas.register_op(
#     "dil_conv_3x3", lambda C, stride, affine: DilConv(C, C, 3, stride, 2, 2, affine), group="conv"
# )
# ```
#
# The search space is experiment 1's with the sep_conv replaced: max_pool_3x3, skip_connect and
# dil_conv_3x3, so s = (pool, skip, dil_conv) penalises each of them.

# %% tags=["remove-output"]
record = run_own_data_study(
    profile,
    seed,
    data_root=data_root,
    results_dir=results_dir or f"results/{profile}",
    runs_dir=runs_dir,
    force=force,
)

# %% tags=["remove-input"]
images = data.load(record["dataset"], data.resolve_root(data_root))
display(
    Markdown(
        f"The dataset is recorded as `{record['dataset']}`: {record['data_source']}; "
        f"{record['train_images']:,} images train the search, {record['val_images']:,} (held out of the "
        f"training folder) are its validation split, and {record['test_images']:,} are kept for testing. "
        f"The search ran {record['epochs']} epochs "
        f"at the `{profile}` profile."
    )
)
fig = report.samples_figure(images.train_x, images.train_y, record["classes"])
display(fig)
plt.close(fig)
# %% [markdown]
# ## The family on this machine
#
# A latency table of the three operations at every position of the network is measured on this
# machine (PyTorch eager, batch 1, one thread), and the family is scanned on a lattice of s: the
# architectures below are spread over its predicted latency, each scored with the supernet's
# weights (no retraining) on the held-out images.

# %% tags=["remove-input"]
fig = report.front_figure(record)
display(fig)
plt.close(fig)
# %% tags=["remove-input"]
report.front_table(record)

# %% [markdown]
# ## A model for a budget, exported
#
# `Run.select` takes the budget and the table, ranks the architectures predicted to fit by their
# accuracy on the validation split and measures the winner; `Run.export` writes it to ONNX with
# its BatchNorm statistics re-estimated on training images, and the file is run in ONNX Runtime on
# the test images.

# %% tags=["remove-input"]
display(Markdown(report.chosen_text(record)))
report.chosen_table(record)

# %% [markdown]
# The two runtimes differ by an order of magnitude at batch 1 because PyTorch eager pays a fixed
# cost per operation call, which dominates in a network this small; a latency budget therefore
# belongs to one runtime, and the latency chapter measures a table for each. At the `smoke` profile
# (two epochs on a few hundred images) the accuracies only show that the path works; at `quick`
# they show what one short search gives on data it was not designed for.
