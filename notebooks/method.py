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
# # The method
#
# This chapter restates the method of Firsov & Bakhteev {cite}`firsov2025` in the notation used by
# the library, and shows its central object, the map from a complexity vector $s$ to an
# architecture, on a problem small enough to train while the page is built.

# %% tags=["parameters", "hide-cell"]
profile = "quick"
seed = 0
data_root = None

# %% tags=["remove-cell"]
import warnings

import matplotlib.pyplot as plt
import mpltern  # noqa: F401
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from IPython.display import display
from myst_nb import glue

from hypernas import book
from hypernas.method import simplex
from hypernas.method.cost import relaxed_cost
from hypernas.method.gumbel import gumbel_softmax, linear_temperature
from hypernas.method.hypernet import RBFHypernet
from hypernas.space.cells import SearchSpace, cell_edges
from hypernas.train.config import OPS_3

warnings.filterwarnings("ignore")
book.use_book_style()

# %% [markdown]
# ## Search space
#
# The network is the DARTS search space {cite}`liu2019darts`: a fixed stem (a 3x3 convolution),
# a sequence of $n = 3$ *cells* and a fixed tail (global average pooling and a linear classifier).
# A cell is a directed acyclic graph whose vertices 0 and 1 are the outputs of the two previous
# cells and whose vertices $2, \dots, 5$ are intermediate nodes; every earlier vertex feeds every
# intermediate node, which gives $2 + 3 + 4 + 5 = 14$ edges. Cell 0 is a *normal* cell (16
# channels); cells 1 and 2 are *reduction* cells (32 and 64 channels) whose edges leaving the
# inputs have stride 2. All reduction cells share one choice of operations, so an architecture is
# one operation on each of $14 + 14 = 28$ edges.

# %% tags=["remove-input"]
space = SearchSpace(ops=OPS_3)
edges = cell_edges(space.nodes)
df = (
    pd.DataFrame(
        {
            "edge": range(len(edges)),
            "from vertex": [e.src for e in edges],
            "to vertex": [e.dst + 2 for e in edges],
            "stride in a reduction cell": [e.stride(True) for e in edges],
        }
    )
    .set_index("edge")
    .T
)
display(df)

# %% [markdown]
# ## Mixed operation and Gumbel-Softmax
#
# Each edge $(i, j)$ carries $k$ candidate operations $o^{(1)}, \dots, o^{(k)}$. The node output is
# $x^{(j)} = \sum_{i<j} g^{(i,j)}(x^{(i)})$ with the mixed operation
#
# $$g^{(i,j)}(x) = \sum_{m=1}^{k} \gamma^{(i,j)}_m\, o^{(m)}(x), \qquad
# \gamma^{(i,j)} \sim \mathrm{GS}(\alpha^{(i,j)}, t) = \mathrm{Softmax}\big((\alpha^{(i,j)} + G)/t\big),$$
#
# where $\alpha^{(i,j)} \in \mathbb{R}^k$ are the architecture logits, $G$ has i.i.d. standard
# Gumbel entries and $t$ is the temperature {cite}`jang2017gumbel,maddison2017concrete,xie2019snas`.
# The library draws an independent $\gamma$ for every example and every edge and lowers $t$
# linearly from 1.0 to 0.2 over the epochs.

# %% tags=["remove-input"]
alpha = torch.tensor([1.0, 0.0, -0.5])
gen = torch.Generator().manual_seed(seed)
rows = []
for t in (1.0, 0.5, 0.2):
    g = gumbel_softmax(alpha, t, batch=2000, generator=gen)
    for m, op in enumerate(OPS_3):
        rows += [{"t": f"t = {t}", "op": op, "gamma_m": v} for v in g[:, m].tolist()]
fig, ax = plt.subplots(figsize=(9, 3.2))
sns.violinplot(
    data=pd.DataFrame(rows), x="op", y="gamma_m", hue="t", cut=0, density_norm="width", ax=ax, linewidth=0.6
)
ax.set(xlabel="", ylabel="weight gamma_m", title="Gumbel-Softmax weights of one edge, alpha = (1, 0, -0.5)")
fig.tight_layout()
glue("method_gs", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} method_gs
# :name: "fig-method-gs"
#
# Distribution of the three weights of one edge under Gumbel-Softmax sampling (2,000 draws per
# temperature). As t falls the sample becomes nearly one-hot, but *which* operation wins stays random.
# ```

# %% [markdown]
# ## The complexity vector and the hypernetwork
#
# A complexity vector $s \in \Delta^{k-1}$ ($s_m \ge 0$, $\sum_m s_m = 1$) holds one penalty per
# operation; during training it is drawn from the uniform distribution on the simplex,
# $\mathrm{Dirichlet}(1, \dots, 1)$, once per mini-batch. A hypernetwork $u_a$ maps $s$ to the
# logits of every edge by radial-basis interpolation between $m$ reference points
# $s_{\text{ref},r}$ with learned reference logits $\alpha_{\text{ref},r}$:
#
# $$w_r(s) = \frac{\exp(-\lVert s - s_{\text{ref},r}\rVert^2/\sigma^2)}{\sum_l \exp(-\lVert s - s_{\text{ref},l}\rVert^2/\sigma^2)},
# \qquad \alpha^{(i,j)}(s) = \sum_r w_r(s)\, \alpha^{(i,j)}_{\text{ref},r}.$$
#
# The paper uses $\sigma = 1$ and does not say where the reference points lie or how many there
# are. We follow the authors' code: every intermediate node of the normal and of the reduction cell
# has its own 5 reference points, drawn from $N(0, I)$ (off the simplex) and learned with the
# reference logits, and all edges into that node share them. The option `ref_layout=lattice`
# instead shares one fixed lattice among all 28 edges: the $k$ vertices, the $\binom{k}{2}$ edge
# midpoints and the centre of the simplex (7 points for $k = 3$, 16 for $k = 5$). That was this
# project's first default; with it, every edge sees the same weights $w_r(s)$, and in experiment 1
# the family often fell onto a single operation group at uniform $s$ (the summary chapter
# compares the two). The authors' code also flips the sign in the exponent (option `rbf_sign=1`);
# we keep the paper's.

# %% [markdown]
# ## Cost and the single-level objective
#
# The complexity of an architecture under $s$ is
# $\mathrm{Cost}(\gamma; s) = \sum_{(i,j)} \sum_m \gamma^{(i,j)}_m s_m$ over the 28 edges. The paper
# replaces the random $\gamma$ in this term by $\tilde\gamma = \mathrm{Softmax}(\alpha/t)$ (option
# `softmax_t`, the default); the authors' code uses $\mathrm{Softmax}(\alpha)$ (option `softmax`),
# and the sample itself is a third option. The weights $w$ and the hypernetwork parameters $a$ are
# trained together on one objective,
#
# $$\min_{w, a}\; \mathbb{E}_{s \sim U(\Delta)} \Big[\mathbb{E}_{\gamma \sim \mathrm{GS}(\alpha(s), t)}
# L_\text{task}(w, \gamma) + \kappa\, \mathrm{Cost}(\tilde\gamma(s); s)\Big],$$
#
# with Adam for both, $\kappa = 50$ and batch 64 (from the authors' code, where the paper is silent).
# After training, the architecture at any $s$ is the arg-max operation of $\alpha(s)$ on every edge.

# %% [markdown]
# ## A live miniature
#
# To see the mechanism without a network, take one edge with the three operations of experiment 1
# and a fixed task loss per operation $\ell = (\ell_\text{pool}, \ell_\text{identity}, \ell_\text{conv})$
# in which the convolution is the most useful. We train only the hypernetwork on
# $\mathbb{E}_\gamma \langle\gamma, \ell\rangle + \kappa\,\mathrm{Cost}$ ($\kappa = 3$) with the
# library's own sampling, hypernetwork, schedule and Cost, then read $\alpha(s)$ off across the
# simplex. The RBF width is $\sigma = 0.3$ here: with the paper's $\sigma = 1$ all seven reference
# points weigh almost equally everywhere on the simplex, $\alpha(s)$ is then nearly linear in $s$,
# and in this miniature the convolution wins at every $s$. The summary chapter compares the two
# widths in the real search of experiment 1 (`sigma=0.3` runs of its sweep).

# %% tags=["remove-output"]
torch.manual_seed(seed)
task_loss = torch.tensor([0.60, 0.75, 0.25])  # pool, identity, conv: lower is better
kappa, steps, batch = 3.0, {"smoke": 300}.get(profile, 1500), 64
hyper = RBFHypernet(3, n_edges=1, sigma=0.3)
opt = torch.optim.Adam(hyper.parameters(), lr=0.05)
gen = torch.Generator().manual_seed(seed)
for step in range(steps):
    t = linear_temperature(step, steps)
    s = simplex.sample_uniform(3, generator=gen)
    a = hyper(s)
    gamma = gumbel_softmax(a, t, batch=batch, generator=gen)
    loss = (gamma * task_loss).sum(-1).mean() + kappa * relaxed_cost(a, s, t, "softmax_t")
    opt.zero_grad()
    loss.backward()
    opt.step()

# %% tags=["remove-input"]
path = torch.stack(
    [torch.tensor([(1 - x) * 0.1 + x * 0.8, 0.1, (1 - x) * 0.8 + x * 0.1]) for x in np.linspace(0, 1, 41)]
)
with torch.no_grad():
    al = hyper(path)[:, 0, :]
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [1.4, 1]})
for m, op in enumerate(OPS_3):
    axes[0].plot(path[:, 0], al[:, m], label=op)
axes[0].set(
    xlabel="s_pool (s_identity = 0.1 fixed, s_conv = 0.9 - s_pool)",
    ylabel="alpha_m(s)",
    title="Logits along a path from 'conv penalised' to 'pool penalised'",
)
axes[0].legend(fontsize=8)
fig.delaxes(axes[1])
ax = fig.add_subplot(1, 2, 2, projection="ternary")
grid = simplex.lattice(3, 30)
with torch.no_grad():
    choice = hyper(grid)[:, 0, :].argmax(-1).numpy()
colors = np.array(sns.color_palette("Set2", 3))
for m, op in enumerate(OPS_3):
    sel = choice == m
    ax.scatter(grid[sel, 0], grid[sel, 1], grid[sel, 2], s=9, color=colors[m], label=op)
ax.set_tlabel("s pool", fontsize=8)
ax.set_llabel("s identity", fontsize=8)
ax.set_rlabel("s conv", fontsize=8)
ax.tick_params(labelsize=6)
ax.set_title("arg-max operation over the simplex", fontsize=10, pad=20)
ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.85, 1.05))
fig.tight_layout()
glue("method_miniature", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} method_miniature
# :name: "fig-method-miniature"
#
# One edge, three operations, a hypernetwork trained on a fixed per-operation task loss plus the
# Cost. Left: the logits alpha(s) as s moves from penalising convolutions to penalising pooling.
# Right: the operation the edge would choose at each s of a lattice. The convolution, the most
# useful operation, survives until its penalty is large; each corner drops its own operation.
# ```
