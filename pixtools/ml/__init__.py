"""DnCNN denoising core, independent of the web app.

Importing this package (or ``pixtools.ml.weights``) does not import torch, so
the web process can check and fetch weights without paying for it; only
``pixtools.ml.dncnn`` and ``pixtools.ml.inference`` need torch.
"""
