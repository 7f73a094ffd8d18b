// Starts Swagger UI on the API's own OpenAPI document (kept out of the HTML for CSP).
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.spec,
  dom_id: "#swagger-ui",
  deepLinking: true,
});
