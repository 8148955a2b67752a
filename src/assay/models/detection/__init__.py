"""Built-in object detectors and their cross-validation (box layers).

:mod:`.base` says what a detector is; :mod:`.components` and :mod:`.centernet` are the two
built-ins; :mod:`.cv` runs them as model runs that write a box model layer.
"""
