"""What an architecture is: the primitive operations (``ops``), the DARTS cell topology of nodes and
edges (``cells``), a genotype as plain data read off alpha by argmax (``genotype``), the supernet that
mixes all k operations on every edge (``supernet``, with the fused per-source forward in
``fused_cell``) and the stand-alone network of one genotype (``network``)."""
