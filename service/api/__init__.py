"""The HTTP API's blueprints and the request parsing they share."""
