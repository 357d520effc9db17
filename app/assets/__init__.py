"""Loading and validating module assets (menus, forms, BPMN, device profiles)."""
