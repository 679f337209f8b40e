// Starts Swagger UI on the API's document. A file of its own rather than an
// inline script, so the page runs under the app's CSP (script-src 'self').
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // Never ask the public validator: the app makes no outside requests.
    validatorUrl: null,
  });
});
