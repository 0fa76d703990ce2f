// The /docs page: starts the vendored Swagger UI (loaded just before this module) on Vigil's
// OpenAPI document. "Try it out" calls use the browser's session, so writes to this site
// carry the CSRF token as every page's writes do (static/api.js).
import { csrfToken } from "/static/api.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const root = document.getElementById("swagger-ui");

window.ui = window.SwaggerUIBundle({
  url: root.dataset.openapi,
  domNode: root,
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
  requestInterceptor: (request) => {
    const method = (request.method || "GET").toUpperCase();
    if (!SAFE_METHODS.has(method) && new URL(request.url, location.href).origin === location.origin) {
      request.headers["X-CSRF-Token"] = csrfToken();
    }
    return request;
  },
});
