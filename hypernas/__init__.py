"""hypernas: hypernetwork-controlled differentiable architecture search."""

__version__ = "0.1.0"
