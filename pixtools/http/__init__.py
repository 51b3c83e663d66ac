"""HTTP plumbing shared by the page (``web``) and the JSON API (``api``): who is asking
(``identity``), protective headers and CSRF (``security``), reading uploads (``uploads``),
rate limits (``ratelimit``) and rendering errors (``errors``)."""
