"""toolkit: leave a cloud provider fast.

One service spec (``toolkit.spec``), two realizations of it (``stacks/`` on AWS,
``playbooks/`` on bare metal) and the code that moves a running service between them.
The public Python entry point is :mod:`toolkit.interface`; the CLI is a thin layer over it.
"""

__version__ = "0.1.0"
