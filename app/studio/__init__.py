"""The consultant studio: draft, lint, test-run and publish a module package in the browser."""
