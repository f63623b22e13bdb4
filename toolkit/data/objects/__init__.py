"""Objects: every bucket of the spec copied from S3 to the bare-metal store by the objects hosts.

``mover.py`` steers (the ``DataMover`` hooks, plus ``resync`` for the cutover's final delta);
``hosts.py`` reaches the objects hosts; ``remote/`` is what runs on them.
"""

from toolkit.data.objects.mover import ObjectMover

__all__ = ["ObjectMover"]
