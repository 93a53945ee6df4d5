// The gateway's Swagger UI: the whole API (both services) from the gateway's /openapi.json.
// Its Authorize button logs in with email and password through /login (OAuth2 password
// flow, as the course's FastAPI /docs does); the token is then sent with every request.
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
  });
};
