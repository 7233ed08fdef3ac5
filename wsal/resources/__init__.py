"""Package data of wsal (read with :mod:`importlib.resources`).

``ucf101_24_tubes_sample.json``: a compact extract of the real UCF101-24 ground-truth tubes
(gurkirt/corrected-UCF101-Annots ``pyannot.pkl``), built by
:func:`wsal.synthetic.build_ucf101_24_extract`; the trajectories of the synthetic tube datasets.
"""
