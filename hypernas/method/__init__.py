"""The paper's equations, free of any network: the complexity vector s on the simplex (``simplex``),
Gumbel-Softmax samples gamma at temperature t (``gumbel``), the architecture cost and its relaxations
(``cost``), and the RBF hypernetwork that maps s to the architecture logits alpha (``hypernet``)."""
