// The API reference page (/api/v1/docs): Swagger UI, vendored from the npm lock, drawing the
// OpenAPI document named by the page. A file of its own: the site's CSP allows no inline script.
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("reference");
  window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    // A reference, not a console: the page's cookie requests would need its CSRF token.
    supportedSubmitMethods: [],
    defaultModelsExpandDepth: 1,
  });
});
