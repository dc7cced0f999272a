"""Audio-visual cross-modal retrieval (VEGAS) with VideoAdviser distillation.

data (``vegas``: readers and folds; ``scenes``, ``features``, ``demo``: the embedded set)
-> teacher (``teacher``: the project's CLIP teacher on frames and class names)
-> distillation (a training-only term in ``model.retrieval_loss``)
-> retrieval model (``model``, ``trainer``) -> evaluation (mAP, ASO, bootstrap; ``pipeline``).
"""
