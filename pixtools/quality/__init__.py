"""Quality by what a person sees: SSIMULACRA 2, the quality search, format choice, jpegli
and placeholders. Plain Python over Pillow and numpy (no web framework, no database, no
configuration: callers pass every setting).

- ``metric``: ``ssimulacra2(original, distorted)``; ``Scorer(original, max_pixels)``
  ``.score(distorted)`` to score many candidates of one original (a large one on crops).
- ``targets``: ``resolve_target`` maps ``high`` / ``medium`` / ``low`` to 70 / 50 / 30;
  ``SearchLimits`` is a search's budget.
- ``search``: ``search_quality(image, Encoding(...), target)`` → ``SearchResult`` (the bytes,
  chosen quality, score, candidates tried, notes; ``.details()`` for an output's details).
- ``formats``: ``choose_format(image, target, candidates)`` → ``FormatChoice``.
- ``encoders``: ``Encoding(format, encoder, options)``; JPEG encoders ``libjpeg`` and
  ``jpegli``.
- ``placeholders``: ``placeholder(image)`` → ThumbHash, BlurHash and the dominant colour;
  ``thumbhash_png`` decodes a ThumbHash for a page.
- ``errors``: ``QualityError`` carries the request field to name in a 422.
"""
