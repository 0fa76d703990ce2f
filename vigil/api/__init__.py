"""The REST API: ``create_app()``, its dependencies, problem details, routers by resource."""
