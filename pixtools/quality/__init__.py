"""Quality by what a person sees: SSIMULACRA 2, the quality search, format choice, jpegli
and placeholders. Plain Python over Pillow and numpy (no web framework, no database, no
configuration: callers pass every setting).

- ``metric``: ``ssimulacra2(original, distorted)``; ``Scorer(original).score(distorted)``
  to score many candidates of one original.
- ``search``: ``search_quality(image, Encoding(...), target)`` → ``SearchResult`` (the bytes,
  chosen quality, score, candidates tried, notes; ``.details()`` for an output's details).
  ``resolve_target`` maps ``high`` / ``medium`` / ``low`` to 70 / 50 / 30.
- ``formats``: ``choose_format(image, target, candidates)`` → ``FormatChoice``.
- ``encoders``: ``Encoding(format, encoder, options)``; JPEG encoders ``libjpeg`` and
  ``jpegli``.
- ``placeholders``: ``placeholder(image)`` → ThumbHash, BlurHash and the dominant colour.
- ``errors``: ``QualityError`` carries the request field to name in a 422.
"""
