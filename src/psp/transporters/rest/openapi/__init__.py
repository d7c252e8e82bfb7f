"""The OpenAPI 3 document of the API, built from the marshmallow schemas, and its HTML rendering."""
