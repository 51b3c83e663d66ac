"""Quality by what a person sees: SSIMULACRA 2, the quality search, format choice, jpegli
and placeholders. Plain Python over Pillow and numpy (no web framework, no database)."""
