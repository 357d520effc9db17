"""Device pages: the registry list, the live device page, the device list import."""
