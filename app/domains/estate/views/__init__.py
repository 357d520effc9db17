"""Estate pages: CRUD views, the household import and the estate JSON API."""
